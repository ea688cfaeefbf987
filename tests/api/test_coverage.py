from enrollment.models import Channel, PaymentStatus
from tests.api.data import enroll
from tests.factories import InsuranceYearFactory, StudentFactory


def test_a_paid_student_is_covered_for_the_coverage_period(world, api):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    response = api(world.coordinator).get(f"/api/v1/coverage/{student.identity_number}?year={world.year.label}")
    assert response.status_code == 200
    body = response.json()
    assert body["covered"] is True
    assert body["coverage_start"] == world.year.coverage_start.isoformat()
    assert body["coverage_end"] == world.year.coverage_end.isoformat()
    assert body["identity_number"] == "*" * 14 + student.identity_number[-4:]


def test_an_unpaid_student_is_not_covered_and_told_why(world, api):
    student = StudentFactory(school=world.school)
    enroll(student, world.year)
    body = api(world.district_staff).get(f"/api/v1/coverage/{student.identity_number}").json()
    assert (body["covered"], body["reason_code"], body["coverage_start"]) == (False, "unpaid", None)
    assert body["reason"] == "未缴费"


def test_a_student_enrolled_through_another_channel_is_sent_there(world, api):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, channel=Channel.VILLAGE_COMMITTEE, payment_status=PaymentStatus.NOT_CHARGED)
    body = api(world.city_staff).get(f"/api/v1/coverage/{student.identity_number}?year={world.year.label}").json()
    assert (body["covered"], body["reason_code"]) == (False, "other_channel")


def test_coordinator_may_only_look_up_own_school_students(world, api):
    student = StudentFactory(school=world.other_school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    assert api(world.coordinator).get(f"/api/v1/coverage/{student.identity_number}").status_code == 404
    assert api(world.district_staff).get(f"/api/v1/coverage/{student.identity_number}").status_code == 404
    assert api(world.other_district_staff).get(f"/api/v1/coverage/{student.identity_number}").status_code == 200


def test_graduate_feed_token_cannot_look_up_coverage(world, api, feed_system):
    student = StudentFactory(school=world.school)
    assert api(feed_system).get(f"/api/v1/coverage/{student.identity_number}").status_code == 403
    assert api(feed_system).get("/api/v1/coverage/not-a-number").status_code == 403


def test_an_invalid_identity_number_is_a_400_naming_the_field(world, api):
    response = api(world.city_staff).get("/api/v1/coverage/44010420100315001")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "identity_number" and "18位" in body["message"]


def test_an_unknown_year_is_a_400_naming_the_field(world, api):
    student = StudentFactory(school=world.school)
    InsuranceYearFactory(city=world.city, label="2028")
    response = api(world.city_staff).get(f"/api/v1/coverage/{student.identity_number}?year=1999")
    assert response.status_code == 400
    assert response.json()["field"] == "year"
