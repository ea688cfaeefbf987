"""A school's information system registers and corrects its students over the API, under the portal form's rules."""

import datetime

import pytest

from coordinators.forms import StudentForm
from enrollment import identity
from enrollment.models import AuditEvent, Enrollment, InsuranceYear, Student
from tests.factories import StudentFactory

BIRTH = datetime.date(2012, 4, 1)
NUMBER = identity.generate(region="440104", birth=BIRTH, sequence=123)  # odd sequence: male


def good(**changes) -> dict:
    return {"identity_number": NUMBER, "name": "李小明", "grade": "5", "class_name": "5班", **changes}


def form_verdict(world, data) -> dict:
    form = StudentForm(data=data, school=world.school)
    form.is_valid()
    return {field: form.errors[field][0] for field in form.errors}


def api_verdict(response) -> dict:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


BAD_ROWS = {
    "a name longer than 50 characters": good(name="李" * 51),
    "a blank name": good(name="  "),
    "a name with digits": good(name="李明2"),
    "a sex other than the number's": good(sex="女"),
    "a birth date other than the number's": good(birth_date="2012-04-02"),
    "an unreadable birth date": good(birth_date="四月一日"),
    "a grade beyond the school's last": good(grade="15"),
    "a wrong check character": good(identity_number=NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1")),
    "a passport number without the passport type": good(identity_number="E1234567"),
    "a passport holder's missing sex": good(document_type="护照", identity_number="E1234567"),
    "a class name that is a formula": good(class_name="=1+1"),
    "no identity number at all": {"name": "李小明", "grade": "5"},
}


@pytest.mark.parametrize("case", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_a_bad_row_gets_the_portal_forms_verdict_naming_the_field(world, api, case):
    data = BAD_ROWS[case]
    expected = form_verdict(world, data)
    assert expected, "the form accepts the row"
    assert api_verdict(api(world.coordinator).post("/api/v1/students", data, format="json")) == expected
    assert not Student.objects.exists()


def test_a_coordinators_system_registers_a_student_in_its_own_school_and_enrolls_them(world, api):
    response = api(world.coordinator).post("/api/v1/students", good(sex="", birth_date=""), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["school"], body["name"], body["sex"], body["birth_date"]) == (world.school.pk, "李小明", "M", "2012-04-01")
    assert body["identity_number"] == "*" * 14 + NUMBER[-4:]
    assert response["Location"].endswith(f"/api/v1/students/{body['id']}")
    assert Enrollment.objects.filter(student_id=body["id"], insurance_year=world.year).exists()
    event = AuditEvent.objects.get(action="student_create")
    assert (event.source, event.actor) == (AuditEvent.Source.API, world.coordinator)


def test_an_update_changes_only_the_fields_sent_and_is_checked_with_the_others(world, api):
    student = StudentFactory(school=world.school, grade=5, class_name="5班")
    client = api(world.coordinator)
    response = client.patch(f"/api/v1/students/{student.pk}", {"class_name": "6班"}, format="json")
    assert response.status_code == 200, response.content
    student.refresh_from_db()
    assert (student.class_name, student.grade, student.name) == ("6班", 5, response.json()["name"])
    # A grade beyond the school's last is refused, with the form's message, and nothing changes.
    refused = client.patch(f"/api/v1/students/{student.pk}", {"grade": "15", "class_name": "7班"}, format="json")
    assert api_verdict(refused) == {"grade": "年级15超出本校年级范围（1至12）。"}
    student.refresh_from_db()
    assert student.class_name == "6班"


def test_another_schools_coordinator_neither_sees_nor_changes_nor_adds_to_the_school(world, api):
    student = StudentFactory(school=world.school, class_name="5班")
    client = api(world.other_coordinator)
    assert client.patch(f"/api/v1/students/{student.pk}", {"class_name": "6班"}, format="json").status_code == 404
    assert client.post("/api/v1/students", good(school=world.school.pk), format="json").status_code == 404
    student.refresh_from_db()
    assert student.class_name == "5班" and Student.objects.count() == 1


def test_district_staff_write_in_their_district_only_and_must_name_the_school(world, api):
    client = api(world.district_staff)
    unnamed = client.post("/api/v1/students", good(), format="json")
    assert (unnamed.status_code, unnamed.json()["field"]) == (400, "school")
    assert client.post("/api/v1/students", good(school=world.other_school.pk), format="json").status_code == 404
    created = client.post("/api/v1/students", good(school=world.school.pk), format="json")
    assert created.status_code == 201 and Student.objects.get().school == world.school
    elsewhere = StudentFactory(school=world.other_school)
    assert client.patch(f"/api/v1/students/{elsewhere.pk}", {"class_name": "6班"}, format="json").status_code == 404


def test_a_student_already_registered_at_another_school_is_refused_not_moved(world, api):
    StudentFactory(school=world.other_school, identity_number=NUMBER)
    response = api(world.coordinator).post("/api/v1/students", good(), format="json")
    assert response.json()["field"] == "identity_number" and "其他学校" in response.json()["message"]
    assert Student.objects.get(identity_number=NUMBER).school == world.other_school


def test_an_update_cannot_move_a_student_to_another_school(world, api):
    student = StudentFactory(school=world.school)
    response = api(world.city_staff).patch(f"/api/v1/students/{student.pk}", {"school": world.other_school.pk}, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "school")
    student.refresh_from_db()
    assert student.school == world.school


def test_outside_the_declaration_window_a_write_is_a_conflict_naming_the_dates(world, api):
    student = StudentFactory(school=world.school, class_name="5班")
    past = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(window_start=past - datetime.timedelta(days=60), window_end=past)
    client = api(world.coordinator)
    for response in (client.post("/api/v1/students", good(), format="json"),
                     client.patch(f"/api/v1/students/{student.pk}", {"class_name": "6班"}, format="json")):
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "window_closed" and past.isoformat() in response.json()["message"]
    student.refresh_from_db()
    assert student.class_name == "5班" and Student.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({**good(), "status": "graduated"}, "status"),
    ({**good(), "hukou_local": "maybe"}, "hukou_local"),
    ({**good(), "grade": ["5"]}, "grade"),
    ({**good(), "school": "GZ-YX-001"}, "school"),
])
def test_input_the_api_cannot_take_is_refused_naming_the_field(world, api, body, field):
    response = api(world.coordinator).post("/api/v1/students", body, format="json")
    assert (response.status_code, response.json()["field"]) == (400, field)
    assert not Student.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400_not_a_500(world, api):
    response = api(world.coordinator).post("/api/v1/students", ["李小明"], format="json")
    assert response.status_code == 400


def test_machine_tokens_and_anonymous_callers_cannot_write(world, api, feed_system, read_all_system):
    for user in (feed_system, read_all_system):
        assert api(user).post("/api/v1/students", good(school=world.school.pk), format="json").status_code == 403
    assert api(None).post("/api/v1/students", good(), format="json").status_code in (401, 403)
    assert not Student.objects.exists()


def test_the_write_endpoints_are_described_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    students = schema["paths"]["/api/v1/students"]
    assert "post" in students and "patch" in schema["paths"]["/api/v1/students/{id}"]
    assert "put" not in schema["paths"]["/api/v1/students/{id}"]
    body = schema["components"]["schemas"]["StudentInputRequest"]["properties"]
    assert {"school", "identity_number", "name", "grade"} <= set(body)

