"""Invariants the database itself refuses to break, whatever code path writes."""

import pytest
from django.db import IntegrityError, transaction

from enrollment.models import Enrollment, Roster, Student
from tests.factories import StudentFactory, identity_number


def test_second_enrollment_of_a_student_in_the_same_year_is_refused(world):
    student = StudentFactory(school=world.school)
    Enrollment.objects.create(student=student, insurance_year=world.year, school=world.school)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(student=student, insurance_year=world.year, school=world.other_school)
    assert Enrollment.objects.filter(student=student).count() == 1


def test_second_roster_of_a_school_in_the_same_year_is_refused(world):
    Roster.objects.create(school=world.school, insurance_year=world.year)
    with pytest.raises(IntegrityError), transaction.atomic():
        Roster.objects.create(school=world.school, insurance_year=world.year)
    assert Roster.objects.filter(school=world.school).count() == 1


def test_two_students_with_the_same_identity_number_are_refused(world):
    student = StudentFactory(school=world.school)
    with pytest.raises(IntegrityError), transaction.atomic():
        StudentFactory(school=world.other_school, identity_number=student.identity_number)
    assert Student.objects.filter(identity_number=student.identity_number).count() == 1


def test_an_identity_number_with_a_lowercase_x_never_reaches_the_table(world):
    number = identity_number()
    with pytest.raises(IntegrityError), transaction.atomic():
        StudentFactory(school=world.school, identity_number=number[:17] + "x")


def test_an_exempt_enrollment_cannot_carry_a_fee(world):
    from decimal import Decimal

    from enrollment.models import ExemptionCategory

    category = ExemptionCategory.objects.create(city=world.city, code="orphan-test", name="孤儿")
    student = StudentFactory(school=world.school)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(
            student=student, insurance_year=world.year, school=world.school,
            exemption_category=category, fee_due=Decimal("200.00"),
        )
