"""Coverage lookup (R13): paid inside the window, or exempt on a confirmed roster, means covered."""

import datetime

import pytest
from django.utils import timezone

from enrollment.models import ChannelRule, Enrollment, PaymentStatus, Roster, RosterState
from enrollment.selectors import coverage_lookup
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import StudentFactory, identity_number


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def enrolled(world, **attrs):
    student = StudentFactory(school=world.school, **attrs)
    return enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)


def at(day: datetime.date):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))


def test_a_student_paid_inside_the_window_is_covered_for_the_coverage_period(world):
    enrollment = enrolled(world)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID, paid_at=at(world.year.window_end))
    answer = coverage_lookup(identity_number=enrollment.student.identity_number, insurance_year=world.year)
    assert answer.covered
    assert (answer.coverage_from, answer.coverage_to) == (world.year.coverage_start, world.year.coverage_end)


def test_a_payment_after_the_window_does_not_cover(world):
    enrollment = enrolled(world)
    late = world.year.window_end + datetime.timedelta(days=1)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.PAID, paid_at=at(late))
    answer = coverage_lookup(identity_number=enrollment.student.identity_number, insurance_year=world.year)
    assert not answer.covered and answer.reason_code == "paid_late"


def test_an_unpaid_student_is_not_covered(world):
    enrollment = enrolled(world)
    answer = coverage_lookup(identity_number=enrollment.student.identity_number, insurance_year=world.year)
    assert (answer.covered, answer.reason_code) == (False, "unpaid")


def test_someone_never_enrolled_is_not_covered(world):
    answer = coverage_lookup(identity_number=identity_number(), insurance_year=world.year)
    assert (answer.covered, answer.reason_code) == (False, "not_enrolled")


def test_an_exempt_student_is_covered_once_the_roster_is_confirmed(world):
    enrollment = enrolled(world)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.FUNDED, fee_due=0)
    number = enrollment.student.identity_number
    assert coverage_lookup(identity_number=number, insurance_year=world.year).covered is False
    Roster.objects.filter(school=world.school, insurance_year=world.year).update(state=RosterState.CONFIRMED)
    assert coverage_lookup(identity_number=number, insurance_year=world.year).covered is True


def test_other_channels_and_public_funded_care_say_who_handles_them(world):
    ChannelRule.objects.create(insurance_year=world.year, order=1, condition="public_funded_care", channel="public_funded")
    ChannelRule.objects.create(insurance_year=world.year, order=2, condition="rural_hukou", channel="village_committee")
    rural = enrolled(world, hukou_rural=True)
    funded = enrolled(world, public_funded_care=True)
    answer = coverage_lookup(identity_number=rural.student.identity_number, insurance_year=world.year)
    assert (answer.covered, answer.reason_code) == (False, "other_channel")
    assert "村民委员会" in answer.reason
    answer = coverage_lookup(identity_number=funded.student.identity_number, insurance_year=world.year)
    assert (answer.covered, answer.reason_code) == (False, "public_funded")
