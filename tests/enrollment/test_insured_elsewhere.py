"""Insured elsewhere: recorded with its proof, not charged, counted as covered apart from the school's own."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from enrollment import coverage
from enrollment.models import Channel, Enrollment, OtherScheme, PaymentStatus, Roster, School
from enrollment.selectors_coverage import student_coverage
from enrollment.services.common import Actor
from enrollment.services.elsewhere import insured_elsewhere_cancel, insured_elsewhere_record
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.rosters import roster_confirm
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


def record(world, student, **overrides):
    values = {"scheme": OtherScheme.EMPLOYEE, "place": "广州市", "valid_until": world.year.coverage_end, **overrides}
    return insured_elsewhere_record(actor=Actor(user=world.coordinator, source="portal"), student=student, **values)


def test_a_student_insured_elsewhere_is_not_charged(world):
    student = StudentFactory(school=world.school)
    other = record(world, student)
    enrollment = Enrollment.objects.get(student=student)
    assert (enrollment.channel, enrollment.fee_due, enrollment.payment_status) == (
        Channel.INSURED_ELSEWHERE, 0, PaymentStatus.NOT_CHARGED)
    assert (other.scheme, other.place, other.valid_until) == (OtherScheme.EMPLOYEE, "广州市", world.year.coverage_end)
    confirmation = roster_confirm(actor=Actor(user=world.coordinator, source="portal"),
                                  roster=Roster.objects.get(school=world.school), checked=True)
    assert (confirmation.paying_count, confirmation.total_amount) == (0, 0)


def test_it_counts_as_covered_in_the_coverage_rate_apart_from_the_schools_own(world):
    paying = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=paying, insurance_year=world.year)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID)
    StudentFactory(school=world.school)  # not yet paid
    record(world, StudentFactory(school=world.school), scheme=OtherScheme.RESIDENTS_HUKOU, place="湖南省某县")
    row = coverage.school_coverage(insurance_year=world.year, schools=School.objects.filter(pk=world.school.pk))[0]
    assert (row.expected, row.settled, row.insured_elsewhere) == (3, 1, 1)
    assert (row.rate, row.school_rate) == (Decimal("66.7"), Decimal("33.3"))


def test_a_refresh_keeps_the_record_until_staff_cancel_it(world):
    student = StudentFactory(school=world.school)
    other = record(world, student)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert Enrollment.objects.get(student=student).channel == Channel.INSURED_ELSEWHERE
    insured_elsewhere_cancel(actor=Actor(user=world.district_staff, source="admin"), other=other, reason="证明已过期")
    enrollment = Enrollment.objects.get(student=student)
    assert (enrollment.channel, enrollment.fee_due, enrollment.payment_status) == (
        Channel.SCHOOL, world.year.fee_standard, PaymentStatus.UNPAID)


def test_proof_ending_before_the_year_starts_is_refused_naming_the_field(world):
    with pytest.raises(ValidationError) as refused:
        record(world, StudentFactory(school=world.school), valid_until=world.year.coverage_start - datetime.timedelta(days=1))
    assert "valid_until" in refused.value.message_dict


def test_a_student_already_paid_through_the_school_is_refused(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID)
    with pytest.raises(ValidationError) as refused:
        record(world, student)
    assert "已经由学校缴费" in " ".join(refused.value.messages)


def test_only_staff_over_the_school_may_cancel_a_record(world):
    other = record(world, StudentFactory(school=world.school))
    for user in (world.coordinator, world.other_district_staff):
        with pytest.raises(PermissionDenied):
            insured_elsewhere_cancel(actor=Actor(user=user, source="admin"), other=other, reason="x")
    assert Enrollment.objects.get(pk=other.enrollment_id).channel == Channel.INSURED_ELSEWHERE


def test_the_students_coverage_says_insured_elsewhere_with_the_proof(world):
    student = StudentFactory(school=world.school)
    record(world, student, place="湖南省某县", scheme=OtherScheme.RESIDENTS_HUKOU)
    answer = student_coverage(student=student, insurance_year=world.year)
    assert (answer.state, answer.kind) == ("insured_elsewhere", "elsewhere")
    assert "户籍地城乡居民医保" in answer.reason and "湖南省某县" in answer.reason
