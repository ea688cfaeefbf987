from tests.factories import SchoolFactory


def codes(response):
    return [row["code"] for row in response.json()["results"]]


def test_coordinator_lists_only_own_school(world, api):
    response = api(world.coordinator).get("/api/v1/schools")
    assert response.status_code == 200
    assert codes(response) == [world.school.code]
    assert response.json()["count"] == 1


def test_coordinator_gets_404_for_another_school(world, api):
    assert api(world.coordinator).get(f"/api/v1/schools/{world.other_school.pk}").status_code == 404


def test_district_staff_cannot_see_another_district(world, api):
    client = api(world.district_staff)
    assert codes(client.get("/api/v1/schools")) == [world.school.code]
    assert client.get(f"/api/v1/schools/{world.other_school.pk}").status_code == 404
    # A filter cannot widen the scope either.
    assert codes(client.get(f"/api/v1/schools?office={world.other_office.pk}")) == []


def test_city_staff_see_every_school_of_the_city_ordered_and_filtered(world, api):
    SchoolFactory(code="GZ-YX-002", name="越秀职业学校", office=world.office, kind="district_vocational")
    client = api(world.city_staff)
    assert codes(client.get("/api/v1/schools?ordering=-code")) == ["GZ-YX-002", "GZ-YX-001", "GZ-HZ-001"]
    assert codes(client.get("/api/v1/schools?kind=district_vocational")) == ["GZ-YX-002"]


def test_graduate_feed_token_sees_no_school(world, api, feed_system):
    client = api(feed_system)
    assert client.get("/api/v1/schools").status_code == 403
    assert client.get(f"/api/v1/schools/{world.school.pk}").status_code == 403


def test_read_all_system_token_sees_its_city(world, api, read_all_system):
    assert api(read_all_system).get("/api/v1/schools").json()["count"] == 2


def test_anonymous_caller_is_refused_with_a_json_error(world, api):
    response = api(None).get("/api/v1/schools")
    assert response.status_code in {401, 403}
    assert response.json()["code"] == "not_authenticated"
