"""Transfers through the API: the new school asks, the old school (or staff over it) decides, each in scope."""

from enrollment.identity import mask
from enrollment.models import AuditEvent, Student, Transfer
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import CityFactory, InsuranceYearFactory, OfficeFactory, SchoolFactory, StudentFactory


def student_of(school, year):
    student = StudentFactory(school=school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=year)
    return student


def test_the_new_school_asks_and_the_old_school_accepts(world, api):
    student = student_of(world.school, world.year)
    asked = api(world.other_coordinator).post("/api/v1/transfers", {"identity_number": student.identity_number}, format="json")
    assert asked.status_code == 201, asked.json()
    assert asked.json()["identity_number_masked"] == mask(student.identity_number)
    assert student.identity_number not in asked.content.decode()
    transfer_id = asked.json()["id"]
    assert [row["id"] for row in api(world.coordinator).get("/api/v1/transfers").json()["results"]] == [transfer_id]
    accepted = api(world.coordinator).post(f"/api/v1/transfers/{transfer_id}/accept", format="json")
    assert accepted.status_code == 200 and accepted.json()["state"] == Transfer.State.ACCEPTED
    assert Student.objects.get(pk=student.pk).school == world.other_school
    assert AuditEvent.objects.filter(action="transfer_accept", source=AuditEvent.Source.API).count() == 2


def test_the_asking_school_cannot_decide_and_another_district_does_not_find_it(world, api):
    student = student_of(world.school, world.year)
    transfer_id = api(world.other_coordinator).post("/api/v1/transfers", {"identity_number": student.identity_number},
                                                    format="json").json()["id"]
    assert api(world.other_coordinator).post(f"/api/v1/transfers/{transfer_id}/accept").status_code == 403
    assert api(world.other_district_staff).post(f"/api/v1/transfers/{transfer_id}/accept").status_code == 404
    refused = api(world.district_staff).post(f"/api/v1/transfers/{transfer_id}/refuse", {"reason": "未办理转学手续"}, format="json")
    assert refused.status_code == 200 and refused.json()["refusal_reason"] == "未办理转学手续"


def test_a_student_of_another_city_is_refused_with_what_to_do(world, api):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    year = InsuranceYearFactory(city=suzhou, label="2027")
    student = student_of(SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou)), year)
    response = api(world.coordinator).post("/api/v1/transfers", {"identity_number": student.identity_number}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "identity_number" and "跨城市不能办理转学" in response.json()["message"]


def test_staff_cannot_ask_and_system_tokens_have_no_access(world, api, read_all_system):
    student = student_of(world.school, world.year)
    assert api(world.city_staff).post("/api/v1/transfers", {"identity_number": student.identity_number}, format="json").status_code == 403
    assert api(read_all_system).get("/api/v1/transfers").status_code == 403
