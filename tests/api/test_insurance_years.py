from tests.factories import CityFactory, InsuranceYearFactory


def test_years_are_those_of_the_callers_city(world, api):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    InsuranceYearFactory(city=suzhou, label="2020")
    labels = [row["label"] for row in api(world.coordinator).get("/api/v1/insurance-years").json()["results"]]
    assert labels == ["2027"]


def test_graduate_feed_token_sees_no_year(world, api, feed_system):
    assert api(feed_system).get("/api/v1/insurance-years").status_code == 403
