"""Enrollment of one student and of a whole school: fee, exemption, removal, roster version."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import (
    AuditEvent,
    Enrollment,
    EnrollmentStatus,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    PaymentStatus,
    Roster,
    StudentStatus,
)
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh, enrollment_remove, enrollments_refresh_bulk
from tests.factories import StudentFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dibao(world):
    return ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员", "local_hukou_only": True})[0]


@pytest.fixture
def non_local_poor(world):
    return ExemptionCategory.objects.get_or_create(
        city=world.city, code="nonlocal_dibao_student",
        defaults={"name": "非本市户籍低保大学生", "local_hukou_only": False, "requires_letter": True},
    )[0]


def register(student, category, *, source=ExemptionSource.CIVIL_AFFAIRS, valid_from=None, valid_to=None, evidence=""):
    return Exemption.objects.create(
        identity_number=student.identity_number, category=category, source=source,
        valid_from=valid_from or datetime.date(2000, 1, 1), valid_to=valid_to, evidence=evidence,
    )


def test_a_student_is_enrolled_once_with_the_years_fee(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor(world.coordinator, "portal"), student=student, insurance_year=world.year)
    again = enrollment_refresh(actor=Actor(world.coordinator, "portal"), student=student, insurance_year=world.year)
    assert enrollment.pk == again.pk
    assert enrollment.fee_due == world.year.fee_standard
    assert enrollment.status == EnrollmentStatus.REGISTERED
    assert Enrollment.objects.filter(student=student).count() == 1


def test_a_student_on_the_exemption_register_pays_nothing_and_shows_the_category(world, dibao):
    student = StudentFactory(school=world.school)
    register(student, dibao)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.fee_due == 0
    assert enrollment.exemption_category == dibao
    assert enrollment.payment_status == PaymentStatus.FUNDED


def test_an_expired_exemption_does_not_exempt(world, dibao):
    student = StudentFactory(school=world.school)
    register(student, dibao, valid_from=datetime.date(2000, 1, 1), valid_to=datetime.date(2001, 1, 1))
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.fee_due == world.year.fee_standard
    assert enrollment.exemption_category is None


def test_a_local_only_category_does_not_exempt_a_non_local_student(world, dibao):
    student = StudentFactory(school=world.school, hukou_local=False)
    register(student, dibao)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.fee_due == world.year.fee_standard


def test_the_non_local_low_income_category_needs_the_stamped_letter(world, non_local_poor):
    student = StudentFactory(school=world.school, hukou_local=False)
    register(student, non_local_poor, source=ExemptionSource.CIVIL_AFFAIRS)
    assert enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year).fee_due == 200
    register(student, non_local_poor, source=ExemptionSource.CONFIRMATION_LETTER, evidence="exemption-letters/x.pdf")
    assert enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year).fee_due == 0


def test_a_graduated_student_is_removed_with_the_reason(world):
    student = StudentFactory(school=world.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    student.status = StudentStatus.GRADUATED
    student.save()
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.status == EnrollmentStatus.REMOVED
    assert enrollment.status_reason == "学生已毕业"
    assert enrollment.fee_due == 0


def test_a_removal_by_hand_survives_a_refresh(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    enrollment_remove(actor=Actor(world.coordinator, "portal"), enrollment=enrollment, reason="疑似毕业生")
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.status == EnrollmentStatus.REMOVED
    assert enrollment.status_reason == "疑似毕业生"


def test_removing_needs_a_reason(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    with pytest.raises(ValidationError):
        enrollment_remove(actor=Actor(world.coordinator, "portal"), enrollment=enrollment, reason="  ")
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REGISTERED


def test_every_change_bumps_the_roster_version_and_no_change_does_not(world):
    student = StudentFactory(school=world.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = Roster.objects.get(school=world.school, insurance_year=world.year)
    version = roster.version
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster.refresh_from_db()
    assert roster.version == version
    enrollment_remove(actor=Actor.job("t"), enrollment=Enrollment.objects.get(student=student), reason="转学")
    roster.refresh_from_db()
    assert roster.version == version + 1


def test_bulk_refresh_enrolls_a_whole_school_like_the_one_by_one_refresh(world, dibao):
    students = StudentFactory.create_batch(30, school=world.school)
    students[0].hukou_rural = True
    students[0].save()
    register(students[1], dibao)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    changed = enrollments_refresh_bulk(actor=Actor.job("import"), roster=roster)
    assert changed == 30
    by_student = {e.student_id: e for e in Enrollment.objects.filter(insurance_year=world.year)}
    assert by_student[students[1].pk].fee_due == 0
    assert by_student[students[1].pk].exemption_category == dibao
    assert by_student[students[2].pk].fee_due == 200
    # A second run finds nothing to change.
    assert enrollments_refresh_bulk(actor=Actor.job("import"), roster=roster) == 0


def test_bulk_refresh_of_some_students_leaves_the_others_alone(world):
    students = StudentFactory.create_batch(5, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    assert enrollments_refresh_bulk(actor=Actor.job("import"), roster=roster, student_ids=[students[0].pk]) == 1
    assert Enrollment.objects.filter(insurance_year=world.year).count() == 1


def test_bulk_refresh_updates_changed_students(world):
    students = StudentFactory.create_batch(3, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("import"), roster=roster)
    students[2].status = StudentStatus.LEFT
    students[2].save()
    assert enrollments_refresh_bulk(actor=Actor.job("import"), roster=roster) == 1
    assert Enrollment.objects.get(student=students[2]).status == EnrollmentStatus.REMOVED
    assert AuditEvent.objects.filter(action="enrollment_update", student=students[2]).count() == 1
