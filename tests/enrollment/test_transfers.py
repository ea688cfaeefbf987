"""Transfers between schools of one city: requested by the new school, decided by the old one, the enrollment moves."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    ConfirmationLine,
    Enrollment,
    EnrollmentStatus,
    PaymentStatus,
    Roster,
    RosterState,
    Student,
    StudentStatus,
    Transfer,
)
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.leaving import student_leave
from enrollment.services.rosters import roster_confirm
from enrollment.services.students import student_create
from enrollment.services.transfers import transfer_accept, transfer_refuse, transfer_request
from tests.factories import (
    CityFactory,
    InsuranceYearFactory,
    OfficeFactory,
    SchoolFactory,
    StudentFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


def actor(user):
    return Actor(user=user, source="portal")


def enrolled(world, school=None):
    student = StudentFactory(school=school or world.school)
    return enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)


def requested(world, enrollment):
    """School B (the other school) asks for a student of school A."""
    return transfer_request(actor=actor(world.other_coordinator), to_school=world.other_school,
                            identity_number=enrollment.student.identity_number)


def test_an_unpaid_student_moves_onto_the_new_schools_roster(world):
    enrollment = enrolled(world)
    transfer = requested(world, enrollment)
    transfer_accept(actor=actor(world.coordinator), transfer=transfer)
    enrollment.refresh_from_db()
    assert Student.objects.get(pk=enrollment.student_id).school == world.other_school
    assert (enrollment.school, enrollment.status, enrollment.payment_status, enrollment.fee_due) == (
        world.other_school, EnrollmentStatus.REGISTERED, PaymentStatus.UNPAID, world.year.fee_standard)
    assert Transfer.objects.get().state == Transfer.State.ACCEPTED


def test_an_unpaid_student_leaves_the_old_schools_confirmed_list_before_it_is_charged(world):
    enrollment = enrolled(world)
    enrolled(world)
    roster = Roster.objects.get(school=world.school, insurance_year=world.year)
    confirmation = roster_confirm(actor=actor(world.coordinator), roster=roster, checked=True)
    assert confirmation.paying_count == 2
    transfer_accept(actor=actor(world.coordinator), transfer=requested(world, enrollment))
    confirmation.refresh_from_db()
    assert (confirmation.paying_count, confirmation.total_amount) == (1, world.year.fee_standard)
    assert not ConfirmationLine.objects.filter(enrollment=enrollment).exists()


def test_a_paid_student_stays_paid_and_is_neither_charged_again_nor_refunded(world):
    enrollment = enrolled(world)
    roster_confirm(actor=actor(world.coordinator), roster=Roster.objects.get(school=world.school, insurance_year=world.year), checked=True)
    Roster.objects.filter(school=world.school).update(state=RosterState.SETTLED)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID)
    transfer_accept(actor=actor(world.coordinator), transfer=requested(world, enrollment))
    enrollment.refresh_from_db()
    assert (enrollment.school, enrollment.payment_status) == (world.other_school, PaymentStatus.PAID)
    new_roster = Roster.objects.get(school=world.other_school, insurance_year=world.year)
    enrolled(world, school=world.other_school)
    confirmation = roster_confirm(actor=actor(world.other_coordinator), roster=new_roster, checked=True)
    assert confirmation.paying_count == 1  # only the new school's own student
    assert ConfirmationLine.objects.filter(enrollment=enrollment).count() == 1  # the old school's charge, once
    assert not ChargeCorrection.objects.exists()


def test_the_history_shows_both_schools(world):
    enrollment = enrolled(world)
    transfer_accept(actor=actor(world.coordinator), transfer=requested(world, enrollment))
    events = AuditEvent.objects.filter(student_id=enrollment.student_id, action="transfer_accept")
    assert {e.school_id for e in events} == {world.school.pk, world.other_school.pk}
    assert events[0].changes["from_school"] == [world.school.name, world.other_school.name]


def test_a_transfer_between_cities_is_refused_with_what_to_do_instead(world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    InsuranceYearFactory(city=suzhou, label="2027")
    school = SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou))
    enrollment = enrolled(world)
    with pytest.raises(ValidationError) as refused:
        transfer_request(actor=actor(None), to_school=school, identity_number=enrollment.student.identity_number)
    message = " ".join(refused.value.messages)
    assert "跨城市不能办理转学" in message and "离校" in message and "新生登记" in message
    assert not Transfer.objects.exists()


def test_another_school_cannot_decide_a_transfer(world):
    third = SchoolFactory(office=world.office)
    third_coordinator = make_user("coord-third", role="coordinator", school=third)
    transfer = requested(world, enrolled(world))
    for user in (third_coordinator, world.other_coordinator, world.other_district_staff):
        with pytest.raises(PermissionDenied):
            transfer_accept(actor=actor(user), transfer=transfer)
    assert Transfer.objects.get().state == Transfer.State.PENDING


def test_district_staff_of_the_old_school_can_accept_and_city_staff_can_refuse(world):
    first = requested(world, enrolled(world))
    transfer_accept(actor=actor(world.district_staff), transfer=first)
    second = requested(world, enrolled(world))
    with pytest.raises(ValidationError):
        transfer_refuse(actor=actor(world.city_staff), transfer=second, reason="  ")
    transfer_refuse(actor=actor(world.city_staff), transfer=second, reason="学生未办理转学手续")
    second.refresh_from_db()
    assert (second.state, second.refusal_reason) == (Transfer.State.REFUSED, "学生未办理转学手续")
    assert Student.objects.get(pk=second.student_id).school == world.school


def test_a_second_request_for_the_same_student_waits_for_the_first(world):
    enrollment = enrolled(world)
    requested(world, enrollment)
    with pytest.raises(ValidationError):
        transfer_request(actor=actor(None), to_school=SchoolFactory(office=world.office), identity_number=enrollment.student.identity_number)


def test_a_student_who_left_in_another_city_is_registered_here_as_new_and_keeps_the_old_citys_year_there(world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    suzhou_year = InsuranceYearFactory(city=suzhou, label="2027")
    suzhou_school = SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou))
    old = enrolled(world)
    student_leave(actor=actor(world.coordinator), student=old.student, status="left", on=old.student.created_at.date())
    student = old.student
    data = {"identity_number": student.identity_number, "name": student.name, "sex": student.sex,
            "birth_date": student.birth_date, "grade": 6, "class_name": "6班"}
    moved = student_create(actor=actor(None), school=suzhou_school, data=data)
    assert moved.pk == student.pk and moved.school == suzhou_school and moved.status == "in_school"
    assert Enrollment.objects.get(student=moved, insurance_year=suzhou_year).school == suzhou_school
    assert Enrollment.objects.get(pk=old.pk).school == world.school  # Guangzhou's year stays Guangzhou's
    events = AuditEvent.objects.filter(student_id=student.pk, action="student_reregistered")
    assert {e.school_id for e in events} == {world.school.pk, suzhou_school.pk}


def test_a_student_still_in_school_in_another_city_is_not_taken_over(world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    InsuranceYearFactory(city=suzhou, label="2027")
    suzhou_school = SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou))
    student = enrolled(world).student
    data = {"identity_number": student.identity_number, "name": student.name, "sex": student.sex,
            "birth_date": student.birth_date, "grade": 6}
    with pytest.raises(ValidationError):
        student_create(actor=actor(None), school=suzhou_school, data=data)
    assert Student.objects.get(pk=student.pk).school == world.school


def test_a_graduated_student_cannot_be_asked_for(world):
    enrollment = enrolled(world)
    Student.objects.filter(pk=enrollment.student_id).update(status="graduated")
    with pytest.raises(ValidationError) as refused:
        requested(world, enrollment)
    assert "毕业或死亡" in " ".join(refused.value.messages)


def test_a_student_graduated_by_the_nightly_run_while_the_request_waited_cannot_be_accepted_and_stays_graduated(world):
    enrollment = enrolled(world)
    transfer = requested(world, enrollment)
    # The nightly graduate run marks students graduated in bulk, without closing requests.
    Student.objects.filter(pk=enrollment.student_id).update(status=StudentStatus.GRADUATED)
    with pytest.raises(ValidationError) as refused:
        transfer_accept(actor=actor(world.coordinator), transfer=transfer)
    assert "毕业" in " ".join(refused.value.messages) and "拒绝" in " ".join(refused.value.messages)
    student = Student.objects.get(pk=enrollment.student_id)
    assert (student.school, student.status) == (world.school, StudentStatus.GRADUATED)
    assert Transfer.objects.get().state == Transfer.State.PENDING


def test_a_request_for_a_student_recorded_as_deceased_is_closed_so_it_blocks_nothing(world):
    enrollment = enrolled(world)
    transfer = requested(world, enrollment)
    student_leave(actor=actor(world.coordinator), student=enrollment.student, status=StudentStatus.DECEASED,
                  on=timezone.localdate())
    transfer.refresh_from_db()
    assert transfer.state == Transfer.State.REFUSED and "毕业或死亡" in transfer.refusal_reason
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRANSFER_REFUSE, object_id=transfer.pk).count() == 2
