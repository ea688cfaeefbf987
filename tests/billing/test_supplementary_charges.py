"""Late students after billing: charged once, as a supplementary charge, in the next debit batch or declaration."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from billing import services
from billing.models import DebitAttempt, DebitBatch, DebitInstruction, Declaration
from enrollment.models import Enrollment, PaymentStatus, Roster, RosterState
from enrollment.services.common import Actor
from enrollment.services.rosters import roster_confirm_supplementary
from enrollment.services.students import student_create
from tests.billing.helpers import answer, batch_file_bytes
from tests.billing.test_declarations import receipt_file
from tests.enrollment.test_student_services import _data

pytestmark = pytest.mark.django_db
JOB = Actor(user=None, source="job", label="test")


def _roster(world):
    return Roster.objects.select_related("school", "insurance_year").get(school=world.school, insurance_year=world.year)


def _late_student(world, seq=7):
    """A coordinator registers a late freshman and confirms the supplementary confirmation (the tick box)."""
    portal = Actor(user=world.coordinator, source="portal")
    student = student_create(actor=portal, school=world.school, data=_data(seq))
    confirmation = roster_confirm_supplementary(actor=portal, roster=_roster(world), checked=True)
    return student, confirmation


def _instructions():
    return list(DebitInstruction.objects.order_by("pk").values("pk", "reference", "kind", "head_count", "amount", "state", "batch_id"))


def _declarations():
    return list(Declaration.objects.order_by("pk").values("pk", "reference", "head_count", "amount", "state", "file", "checksum"))


def test_a_late_student_after_billing_is_charged_once_in_the_next_batch(debit_world):
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    assert _roster(debit_world).state == RosterState.BILLED
    billed = _instructions()
    student, confirmation = _late_student(debit_world)

    summary = services.batches_generate(insurance_year=debit_world.year, actor=JOB)

    assert len(summary.batches) == 1 and DebitBatch.objects.count() == 2
    new = DebitInstruction.objects.get(kind=DebitInstruction.Kind.SUPPLEMENTARY)
    assert (new.confirmation, new.head_count, new.amount) == (confirmation, 1, debit_world.year.fee_standard)
    assert new.reference.startswith("DS") and new.batch.reference == summary.batches[0]
    assert new.get_kind_display() == "补充确认扣费"
    assert _instructions()[: len(billed)] == billed  # nothing already billed changed
    again = services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    assert again.batches == [] and DebitAttempt.objects.filter(instruction=new).count() == 1
    enrollment = Enrollment.objects.get(student=student)
    assert enrollment.confirmation_lines.filter(live=True).count() == 1


def test_a_late_student_not_yet_confirmed_is_not_charged(debit_world):
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    student_create(actor=Actor(user=debit_world.coordinator, source="portal"), school=debit_world.school, data=_data(7))
    summary = services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    assert summary.batches == [] and not DebitInstruction.objects.filter(kind=DebitInstruction.Kind.SUPPLEMENTARY).exists()


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_the_bank_file_carries_the_supplementary_charge_under_its_own_reference(debit_world):
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    _late_student(debit_world)
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    batch = DebitBatch.objects.order_by("-created_at").first()
    lines = batch_file_bytes(batch).decode("utf-8").splitlines()
    (line,) = lines[1:-1]
    fields = line.split("|")
    assert fields[6].startswith("DS") and fields[5] == "200.00" and fields[2] == debit_world.school.code


def test_the_banks_answer_pays_the_late_student_and_leaves_the_roster_to_its_first_charge(debit_world):
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    first = DebitBatch.objects.get()
    student, _confirmation = _late_student(debit_world)
    services.batches_generate(insurance_year=debit_world.year, actor=JOB)
    second = DebitBatch.objects.exclude(pk=first.pk).get()
    services.batch_results_import(batch=second, content=answer(second), file_name="r2.txt", actor=JOB)
    assert Enrollment.objects.get(student=student).payment_status == PaymentStatus.PAID
    assert _roster(debit_world).state == RosterState.BILLED
    services.batch_results_import(batch=first, content=answer(first), file_name="r1.txt", actor=JOB)
    assert _roster(debit_world).state == RosterState.SETTLED


def test_a_late_student_after_the_declaration_is_declared_once_in_the_next_declaration(
    tax_world, django_capture_on_commit_callbacks
):
    # Each run's workbooks move into place when its rows commit, as they do outside a test transaction.
    with django_capture_on_commit_callbacks(execute=True):
        services.declarations_generate(insurance_year=tax_world.year, actor=JOB)
    declared = _declarations()
    student, confirmation = _late_student(tax_world)

    with django_capture_on_commit_callbacks(execute=True):
        created = services.declarations_generate(insurance_year=tax_world.year, actor=JOB)

    assert len(created) == 1 and created[0].startswith("TS")
    new = Declaration.objects.get(reference=created[0])
    assert (new.confirmation, new.supplementary, new.head_count, new.amount) == (confirmation, True, 1, Decimal("140.00"))
    assert _declarations()[: len(declared)] == declared  # nothing already declared changed
    assert services.declarations_generate(insurance_year=tax_world.year, actor=JOB) == []
    assert _roster(tax_world).state == RosterState.BILLED


def test_the_late_students_receipt_pays_them_and_the_roster_follows_its_first_declaration(tax_world):
    services.declarations_generate(insurance_year=tax_world.year, actor=JOB)
    student, _confirmation = _late_student(tax_world)
    services.declarations_generate(insurance_year=tax_world.year, actor=JOB)
    new = Declaration.objects.get(supplementary=True)
    services.declaration_record_payment(declaration=new, method="transfer", actor=JOB)
    content = receipt_file([(student.identity_number, "PJ9001", "140.00")])
    services.receipts_import(insurance_year=tax_world.year, content=content, file_name="late.xlsx", actor=JOB)
    enrollment = Enrollment.objects.get(student=student)
    assert (enrollment.payment_status, enrollment.receipt_number) == (PaymentStatus.PAID, "PJ9001")
    assert Declaration.objects.get(pk=new.pk).state == Declaration.State.RECEIPTED
    assert _roster(tax_world).state == RosterState.BILLED


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_the_supplementary_declaration_workbook_marks_its_rows_as_supplementary(tax_world):
    services.declarations_generate(insurance_year=tax_world.year, actor=JOB)
    student, _confirmation = _late_student(tax_world)
    services.declarations_generate(insurance_year=tax_world.year, actor=JOB)
    first, new = Declaration.objects.get(supplementary=False), Declaration.objects.get(supplementary=True)

    def rows(declaration):
        with declaration.file.open("rb") as handle:
            return list(load_workbook(io.BytesIO(handle.read()), read_only=True).active.iter_rows(values_only=True))

    header, *body = rows(new)
    kind = header.index("申报类型")
    assert [(r[5], r[kind]) for r in body[:-1]] == [(student.identity_number, "补充申报")]
    assert body[-1][-1] == 140
    assert {r[kind] for r in rows(first)[1:]} == {"正常申报"}
