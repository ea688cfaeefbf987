"""Test data shared by the API, dashboard, report, card and reminder tests."""

from decimal import Decimal

from django.utils import timezone

from enrollment.models import Channel, Enrollment, EnrollmentStatus, PaymentStatus, Roster
from tests.factories import StudentFactory


def enroll(student, year, *, payment_status=PaymentStatus.UNPAID, channel=Channel.SCHOOL, status=EnrollmentStatus.REGISTERED,
           fee=None, exemption_category=None):
    fee_due = Decimal("0.00") if (channel != Channel.SCHOOL or exemption_category) else (fee if fee is not None else year.fee_standard)
    return Enrollment.objects.create(
        student=student,
        insurance_year=year,
        school=student.school,
        channel=channel,
        status=status,
        fee_due=fee_due,
        exemption_category=exemption_category,
        payment_status=payment_status,
        paid_at=timezone.now() if payment_status == PaymentStatus.PAID else None,
    )


def school_with_students(school, year, *, paid=0, unpaid=0, not_enrolled=0):
    """Students of a school: ``paid`` settled, ``unpaid`` enrolled but unpaid, ``not_enrolled`` with no enrollment."""
    students = []
    for _ in range(paid):
        students.append(StudentFactory(school=school))
        enroll(students[-1], year, payment_status=PaymentStatus.PAID)
    for _ in range(unpaid):
        students.append(StudentFactory(school=school))
        enroll(students[-1], year)
    for _ in range(not_enrolled):
        students.append(StudentFactory(school=school))
    Roster.objects.get_or_create(school=school, insurance_year=year)
    return students
