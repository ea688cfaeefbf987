from coordinators.models import Coordinator


def make_coordinator(school, name):
    return Coordinator.objects.create(
        school=school, name=name, gender="F", department="教务处", post="干事", work_phone="020-1234567", mobile="13800138000"
    )


def test_coordinator_registry_is_scoped_to_the_school(world, api):
    mine = make_coordinator(world.school, "李老师")
    theirs = make_coordinator(world.other_school, "王老师")
    client = api(world.coordinator)
    assert [row["name"] for row in client.get("/api/v1/coordinators").json()["results"]] == [mine.name]
    assert client.get(f"/api/v1/coordinators/{theirs.pk}").status_code == 404


def test_district_staff_see_their_districts_coordinators_only(world, api):
    make_coordinator(world.school, "李老师")
    theirs = make_coordinator(world.other_school, "王老师")
    client = api(world.district_staff)
    assert client.get("/api/v1/coordinators").json()["count"] == 1
    assert client.get(f"/api/v1/coordinators/{theirs.pk}").status_code == 404
    assert api(world.city_staff).get("/api/v1/coordinators").json()["count"] == 2


def test_graduate_feed_token_sees_no_coordinator(world, api, feed_system):
    make_coordinator(world.school, "李老师")
    assert api(feed_system).get("/api/v1/coordinators").status_code == 403
