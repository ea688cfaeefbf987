"""The personas helper gives clients that are really logged in as whom they claim."""

from tests.security.personas import (
    ANONYMOUS,
    CITY_STAFF,
    COORDINATOR,
    DISTRICT_STAFF,
    OTHER_CITY_DISTRICT_STAFF,
    OTHER_CITY_STAFF,
    OTHER_DISTRICT_STAFF,
    OTHER_SCHOOL_COORDINATOR,
    SYSTEM_GRADUATE_FEEDS,
    SYSTEM_READ_ALL,
    personas,
)


def test_every_persona_reaches_the_site_as_its_own_user(world):
    people = personas(world)
    assert set(people) == {
        ANONYMOUS, COORDINATOR, OTHER_SCHOOL_COORDINATOR, DISTRICT_STAFF, OTHER_DISTRICT_STAFF, CITY_STAFF,
        OTHER_CITY_STAFF, OTHER_CITY_DISTRICT_STAFF, SYSTEM_READ_ALL, SYSTEM_GRADUATE_FEEDS,
    }
    assert people[ANONYMOUS].client.get("/admin/").status_code == 302
    for name in (DISTRICT_STAFF, OTHER_DISTRICT_STAFF, CITY_STAFF, OTHER_CITY_STAFF, OTHER_CITY_DISTRICT_STAFF):
        response = people[name].client.get("/admin/")
        assert response.status_code == 200, name
        assert response.wsgi_request.user == people[name].user
    coordinator = people[COORDINATOR].client.get("/admin/")
    assert coordinator.wsgi_request.user == world.coordinator
    for name in (SYSTEM_READ_ALL, SYSTEM_GRADUATE_FEEDS):
        assert people[name].token
        response = people[name].client.get("/api/v1/insurance-years")
        assert response.status_code in (200, 403), name
        assert response.wsgi_request.user == people[name].user
