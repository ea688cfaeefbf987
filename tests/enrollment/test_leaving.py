"""Leaving school and death mid-year: a status with a date; the paid fee follows the city's insurance-year setting."""

import datetime

import pytest
from django.utils import timezone

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    LeavingFee,
    PaymentStatus,
    Roster,
    RosterState,
    StudentStatus,
)
from enrollment.selectors_coverage import student_coverage
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh, enrollments_refresh_bulk
from enrollment.services.leaving import leaving_rule_text, student_leave, student_return
from tests.factories import InsuranceYearFactory, StudentFactory

pytestmark = pytest.mark.django_db
YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


def paid(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID)
    Roster.objects.filter(school=world.school).update(state=RosterState.SETTLED)
    return enrollment


def leave(world, enrollment, status=StudentStatus.LEFT):
    return student_leave(actor=Actor(user=world.coordinator, source="portal"), student=enrollment.student, status=status, on=YESTERDAY)


def test_by_default_a_paid_student_who_leaves_keeps_the_year_and_gets_no_refund(world):
    enrollment = paid(world)
    outcome = leave(world, enrollment)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.payment_status, enrollment.fee_due) == (
        EnrollmentStatus.REGISTERED, PaymentStatus.PAID, world.year.fee_standard)
    assert not ChargeCorrection.objects.exists()
    assert "不退" in outcome.message and world.year.coverage_end.isoformat() in outcome.message
    enrollment.student.refresh_from_db()
    assert (enrollment.student.status, enrollment.student.status_changed_on) == (StudentStatus.LEFT, YESTERDAY)


def test_a_later_refresh_of_the_school_does_not_take_the_paid_year_away(world):
    enrollment = paid(world)
    leave(world, enrollment, StudentStatus.DECEASED)
    roster = Roster.objects.get(school=world.school)
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.OPEN)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.fee_due) == (EnrollmentStatus.REGISTERED, world.year.fee_standard)


def test_where_the_city_refunds_a_refund_of_the_years_fee_is_raised(world):
    InsuranceYear.objects.filter(pk=world.year.pk).update(paid_fee_on_leaving=LeavingFee.REFUND)
    enrollment = paid(world)
    outcome = leave(world, enrollment, StudentStatus.DECEASED)
    correction = ChargeCorrection.objects.get()
    assert (correction.enrollment_id, correction.amount, correction.reason) == (
        enrollment.pk, -world.year.fee_standard, ChargeCorrection.Reason.DECEASED)
    assert "退还" in outcome.message


def test_an_unpaid_student_on_an_open_roster_is_taken_off_and_not_charged(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    leave(world, enrollment)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.fee_due) == (EnrollmentStatus.REMOVED, 0)


def test_the_student_is_stopped_for_the_next_year(world):
    enrollment = paid(world)
    leave(world, enrollment)
    next_year = InsuranceYearFactory(city=world.city, label="2028", coverage_start=world.year.coverage_end + datetime.timedelta(days=1),
                                     coverage_end=world.year.coverage_end.replace(year=world.year.coverage_end.year + 1))
    Roster.objects.create(school=world.school, insurance_year=next_year)
    following = enrollment_refresh(actor=Actor.job("t"), student=enrollment.student, insurance_year=next_year)
    assert (following.status, following.fee_due) == (EnrollmentStatus.REMOVED, 0)


def test_the_rule_is_explained_before_recording_and_each_record_is_audited(world):
    assert "不退" in leaving_rule_text(insurance_year=world.year)
    InsuranceYear.objects.filter(pk=world.year.pk).update(paid_fee_on_leaving=LeavingFee.REFUND)
    world.year.refresh_from_db()
    assert "退还" in leaving_rule_text(insurance_year=world.year)
    enrollment = paid(world)
    leave(world, enrollment, StudentStatus.DECEASED)
    assert AuditEvent.objects.filter(student_id=enrollment.student_id, action="student_deceased").exists()


def test_staff_correct_a_student_recorded_as_left_by_mistake(world):
    enrollment = paid(world)
    leave(world, enrollment)
    student_return(actor=Actor(user=world.district_staff, source="admin"), student=enrollment.student, reason="误登记")
    enrollment.student.refresh_from_db()
    assert enrollment.student.status == StudentStatus.IN_SCHOOL
    assert AuditEvent.objects.filter(student_id=enrollment.student_id, action="student_status_corrected", note="误登记").exists()


def test_the_coverage_of_a_deceased_student_says_so_with_the_date(world):
    enrollment = paid(world)
    leave(world, enrollment, StudentStatus.DECEASED)
    enrollment.student.refresh_from_db()
    answer = student_coverage(student=enrollment.student, insurance_year=world.year)
    assert (answer.state, answer.covered) == ("deceased", False) and YESTERDAY.isoformat() in answer.reason


def test_a_student_who_leaves_after_confirmation_but_before_the_debit_is_taken_off_the_list_and_not_charged(world):
    from enrollment.models import ConfirmationLine
    from enrollment.services.rosters import roster_confirm

    leaving = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    roster = Roster.objects.get(school=world.school, insurance_year=world.year)
    confirmation = roster_confirm(actor=Actor(user=world.coordinator, source="portal"), roster=roster, checked=True)
    assert confirmation.paying_count == 2

    outcome = leave(world, leaving)

    confirmation.refresh_from_db()
    assert (confirmation.paying_count, confirmation.total_amount) == (1, world.year.fee_standard)
    assert not ConfirmationLine.objects.filter(enrollment=leaving).exists()
    assert "不会扣费" in outcome.message


def test_a_student_who_leaves_once_the_list_is_being_charged_stays_on_it_and_is_told_whom_to_ask(world):
    from enrollment.models import ConfirmationLine
    from enrollment.services.rosters import roster_confirm

    leaving = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    roster = Roster.objects.get(school=world.school, insurance_year=world.year)
    roster_confirm(actor=Actor(user=world.coordinator, source="portal"), roster=roster, checked=True)
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.BILLED)

    outcome = leave(world, leaving)

    assert ConfirmationLine.objects.filter(enrollment=leaving, live=True).count() == 1
    assert "仍按已确认的名单扣费" in outcome.message
