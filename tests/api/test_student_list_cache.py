"""A coordinator's student list comes from the cache until anything it shows changes."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.models import PersonalDataAccess, School, Student
from tests.factories import StudentFactory

URL = "/api/v1/students"


def _rows(client, query=""):
    response = client.get(URL + query)
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def test_second_request_for_the_same_page_is_served_from_the_cache(world, api):
    StudentFactory.create_batch(3, school=world.school)
    client = api(world.coordinator)
    first = client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        second = client.get(URL)
    assert second.status_code == 200 and second["Content-Type"] == first["Content-Type"]
    assert second.content == first.content
    sql = " ".join(q["sql"] for q in queries)
    assert "enrollment_student" not in sql and len(queries) <= 2


def test_student_list_shows_a_change_written_by_plain_sql_at_once(world, api):
    student = StudentFactory(school=world.school)
    client = api(world.coordinator)
    assert _rows(client)[student.pk]["status"] == "in_school"
    # No service, no signal: only the database trigger sees this write, and it
    # changes nothing a roster page shows.
    Student.objects.filter(pk=student.pk).update(status="left", has_citizen_card=True, hukou_rural=True)
    row = _rows(client)[student.pk]
    assert (row["status"], row["has_citizen_card"], row["hukou_rural"]) == ("left", True, True)


def test_student_list_shows_new_and_deleted_students_at_once(world, api):
    kept, dropped = StudentFactory.create_batch(2, school=world.school)
    client = api(world.coordinator)
    assert set(_rows(client)) == {kept.pk, dropped.pk}
    added = StudentFactory(school=world.school)
    Student.objects.filter(pk=dropped.pk).delete()
    assert set(_rows(client)) == {kept.pk, added.pk}


def test_student_moved_to_another_school_leaves_the_list_at_once(world, api):
    moved = StudentFactory(school=world.school)
    client = api(world.coordinator)
    assert moved.pk in _rows(client)
    Student.objects.filter(pk=moved.pk).update(school=world.other_school)
    assert moved.pk not in _rows(client)
    assert moved.pk in _rows(api(world.other_coordinator))


def test_student_list_shows_the_schools_new_name_at_once(world, api):
    student = StudentFactory(school=world.school)
    client = api(world.coordinator)
    _rows(client)
    School.objects.filter(pk=world.school.pk).update(name="更名后的学校")
    assert _rows(client)[student.pk]["school_name"] == "更名后的学校"


def test_another_schools_coordinator_never_gets_the_cached_page(world, api):
    mine = StudentFactory(school=world.school)
    theirs = StudentFactory(school=world.other_school)
    assert set(_rows(api(world.coordinator))) == {mine.pk}
    assert set(_rows(api(world.other_coordinator))) == {theirs.pk}


def test_filters_and_pages_are_cached_apart(world, api):
    first, second = StudentFactory.create_batch(2, school=world.school)
    client = api(world.coordinator)
    assert set(_rows(client)) == {first.pk, second.pk}
    assert set(_rows(client, f"?identity_number={second.identity_number}")) == {second.pk}
    assert list(_rows(client, "?ordering=-id")) == [second.pk, first.pk]
    assert set(_rows(client)) == {first.pk, second.pk}


def test_staff_lists_are_never_served_from_a_coordinators_cache(world, api):
    mine = StudentFactory(school=world.school)
    theirs = StudentFactory(school=world.other_school)
    _rows(api(world.coordinator))
    assert set(_rows(api(world.city_staff))) == {mine.pk, theirs.pk}


def test_every_request_for_full_numbers_is_answered_and_logged(world, api):
    student = StudentFactory(school=world.school)
    client = api(world.district_staff)
    for _ in range(2):
        assert _rows(client, "?full=1")[student.pk]["identity_number"] == student.identity_number
    assert PersonalDataAccess.objects.filter(user=world.district_staff).count() == 2


def test_a_page_that_did_not_exist_appears_once_enough_students_are_registered(world, api):
    StudentFactory(school=world.school)
    client = api(world.coordinator)
    assert client.get(URL + "?page=2").status_code == 404
    StudentFactory.create_batch(50, school=world.school)
    assert len(_rows(client, "?page=2")) == 1
