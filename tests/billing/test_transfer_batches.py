"""A transferred student is charged once overall: unpaid in the new school's next batch, paid never again."""

from decimal import Decimal

import pytest

from billing import services
from billing.models import DebitInstruction, Refund
from enrollment.models import ChargeCorrection, ConfirmationLine, Enrollment, PaymentStatus, Roster
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.payments import roster_settle
from enrollment.services.rosters import roster_confirm
from enrollment.services.transfers import transfer_accept, transfer_request
from tests.billing.conftest import confirm_roster, make_account
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db
JOB = Actor(user=None, source="job", label="test")


@pytest.fixture
def two_schools(world, bank):
    make_account(world.school, bank)
    make_account(world.other_school, bank)
    return world


def move(world, enrollment):
    transfer = transfer_request(actor=Actor(user=world.other_coordinator, source="portal"), to_school=world.other_school,
                                identity_number=enrollment.student.identity_number)
    return transfer_accept(actor=Actor(user=world.coordinator, source="portal"), transfer=transfer)


def confirm_new_school(world):
    own = StudentFactory(school=world.other_school)
    enrollment_refresh(actor=JOB, student=own, insurance_year=world.year)
    roster = Roster.objects.get(school=world.other_school, insurance_year=world.year)
    return roster_confirm(actor=Actor(user=world.other_coordinator, source="portal"), roster=roster, checked=True)


def test_an_unpaid_transferred_student_is_debited_in_the_new_schools_batch_not_the_old(two_schools):
    world = two_schools
    old_confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=3)
    moving = Enrollment.objects.filter(school=world.school).first()
    move(world, moving)
    confirm_new_school(world)
    services.batches_generate(insurance_year=world.year, actor=JOB)
    old = DebitInstruction.objects.get(confirmation=old_confirmation)
    new = DebitInstruction.objects.get(school=world.other_school)
    assert (old.head_count, old.amount) == (2, Decimal("400.00"))
    assert (new.head_count, new.amount) == (2, Decimal("400.00"))  # its own student and the one transferred in
    assert list(ConfirmationLine.objects.filter(enrollment=moving).values_list("confirmation__roster__school", flat=True)) == [
        world.other_school.pk]


def test_a_paid_transferred_student_is_not_charged_again_nor_refunded(two_schools):
    world = two_schools
    old_confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=2)
    services.batches_generate(insurance_year=world.year, actor=JOB)
    roster_settle(confirmation=old_confirmation, actor=JOB)
    moving = Enrollment.objects.filter(school=world.school).first()
    move(world, moving)
    confirm_new_school(world)
    services.batches_generate(insurance_year=world.year, actor=JOB)
    services.corrections_process(insurance_year=world.year, actor=JOB)
    new = DebitInstruction.objects.get(school=world.other_school)
    assert (new.head_count, new.amount) == (1, Decimal("200.00"))  # only its own student
    moving.refresh_from_db()
    assert (moving.school, moving.payment_status) == (world.other_school, PaymentStatus.PAID)
    assert ConfirmationLine.objects.filter(enrollment=moving, fee__gt=0).count() == 1
    assert not Refund.objects.exists() and not ChargeCorrection.objects.exists()


def test_an_unpaid_student_moving_to_a_billed_school_waits_for_its_supplementary_confirmation_and_is_charged_once(debit_world):
    from enrollment.selectors import late_enrollments
    from enrollment.services.rosters import roster_confirm_supplementary
    from enrollment.services.students import student_create
    from tests.enrollment.test_student_services import _data

    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    # A late freshman at the first school, not confirmed there yet, then moves to the other school.
    student = student_create(actor=Actor(user=debit_world.coordinator, source="portal"), school=debit_world.school, data=_data(7))
    enrollment = Enrollment.objects.get(student=student)
    move(debit_world, enrollment)

    old_roster = Roster.objects.get(school=debit_world.school, insurance_year=debit_world.year)
    new_roster = Roster.objects.get(school=debit_world.other_school, insurance_year=debit_world.year)
    assert list(late_enrollments(roster=old_roster)) == []
    assert list(late_enrollments(roster=new_roster)) == [enrollment]
    roster_confirm_supplementary(actor=Actor(user=debit_world.other_coordinator, source="portal"), roster=new_roster, checked=True)

    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    supplementary = DebitInstruction.objects.get(kind=DebitInstruction.Kind.SUPPLEMENTARY)
    assert (supplementary.school, supplementary.head_count, supplementary.amount) == (
        debit_world.other_school, 1, debit_world.year.fee_standard)
    assert ConfirmationLine.objects.filter(enrollment=enrollment, live=True).count() == 1
