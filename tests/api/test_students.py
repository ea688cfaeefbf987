from enrollment.models import PersonalDataAccess
from tests.factories import StudentFactory


def test_coordinator_cannot_see_other_schools_students(world, api):
    mine = StudentFactory(school=world.school)
    theirs = StudentFactory(school=world.other_school)
    client = api(world.coordinator)
    body = client.get("/api/v1/students").json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert client.get(f"/api/v1/students/{theirs.pk}").status_code == 404
    assert client.get(f"/api/v1/students?school={world.other_school.pk}").json()["count"] == 0


def test_identity_numbers_are_masked_by_default(world, api):
    student = StudentFactory(school=world.school)
    row = api(world.district_staff).get(f"/api/v1/students/{student.pk}").json()
    assert row["identity_number"] == "*" * 14 + student.identity_number[-4:]


def test_staff_see_full_numbers_with_full_and_the_access_is_logged(world, api):
    student = StudentFactory(school=world.school)
    StudentFactory(school=world.school)
    body = api(world.district_staff).get("/api/v1/students?full=1").json()
    assert student.identity_number in [row["identity_number"] for row in body["results"]]
    access = PersonalDataAccess.objects.get()
    assert access.user == world.district_staff
    assert access.record_count == 2


def test_coordinator_asking_for_full_numbers_still_gets_masked_ones(world, api):
    student = StudentFactory(school=world.school)
    row = api(world.coordinator).get(f"/api/v1/students/{student.pk}?full=1").json()
    assert row["identity_number"].startswith("*")
    assert not PersonalDataAccess.objects.exists()


def test_students_can_be_found_by_identity_number(world, api):
    student = StudentFactory(school=world.school)
    StudentFactory(school=world.school)
    body = api(world.city_staff).get(f"/api/v1/students?identity_number={student.identity_number.lower()}").json()
    assert [row["id"] for row in body["results"]] == [student.pk]


def test_graduate_feed_token_sees_no_student(world, api, feed_system):
    StudentFactory(school=world.school)
    assert api(feed_system).get("/api/v1/students").status_code == 403


def test_student_rows_are_the_same_as_the_generic_serializer_would_give(world, api):
    import datetime

    from rest_framework import serializers

    from enrollment.api.serializers import StudentSerializer

    graduated = StudentFactory(school=world.school, status="graduated", status_changed_on=datetime.date(2026, 7, 1))
    plain = StudentFactory(school=world.school, medical_assistance="", hukou_local=False)
    for full in (False, True):
        for student in (graduated, plain):
            serializer = StudentSerializer(context={"full_identity": full})
            fast = serializer.to_representation(student)
            generic = serializers.ModelSerializer.to_representation(serializer, student)
            assert fast == dict(generic)
            assert list(fast) == list(generic)
    listed = api(world.coordinator).get("/api/v1/students").json()["results"]
    assert {row["id"]: row["status_changed_on"] for row in listed} == {graduated.pk: "2026-07-01", plain.pk: None}
