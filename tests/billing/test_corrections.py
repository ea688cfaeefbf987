"""Charge corrections: extra debits become adjustment instructions, refunds go back to the school by file."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing import services
from billing.formats import get_format
from billing.models import DebitBatch, DebitInstruction, Refund, RefundExport
from enrollment.models import ChargeCorrection, Enrollment, PaymentStatus
from enrollment.services.common import Actor
from enrollment.services.fees import fee_standard_publish
from tests.billing.helpers import answer

pytestmark = pytest.mark.django_db
ACTOR = Actor(user=None, source="admin", label="test")


def settle_first_batch(world):
    services.batches_generate(insurance_year=world.year, actor=ACTOR)
    batch = DebitBatch.objects.get()
    services.batch_results_import(batch=batch, content=answer(batch), file_name="r.txt", actor=ACTOR)


def test_raised_fee_standard_becomes_adjustment_instructions_in_the_next_batch(debit_world):
    settle_first_batch(debit_world)
    fee_standard_publish(actor=ACTOR, insurance_year=debit_world.year, fee_standard=Decimal("220.00"))
    summary = services.batches_generate(insurance_year=debit_world.year, actor=ACTOR)
    assert summary.adjustments == 5 and summary.refunds == 0
    adjustments = DebitInstruction.objects.filter(kind=DebitInstruction.Kind.ADJUSTMENT)
    assert adjustments.count() == 5 and {a.amount for a in adjustments} == {Decimal("20.00")}
    batch = DebitBatch.objects.get(reference=summary.batches[0])
    assert (batch.line_count, batch.total_amount) == (5, Decimal("100.00"))
    services.batch_results_import(batch=batch, content=answer(batch), file_name="adj.txt", actor=ACTOR)
    assert set(ChargeCorrection.objects.values_list("state", flat=True)) == {ChargeCorrection.State.DONE}
    # A second run finds nothing left to charge.
    assert services.batches_generate(insurance_year=debit_world.year, actor=ACTOR).batches == []


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_lowered_fee_standard_becomes_refunds_exported_per_school_and_settled(debit_world):
    settle_first_batch(debit_world)
    fee_standard_publish(actor=ACTOR, insurance_year=debit_world.year, fee_standard=Decimal("180.00"))
    services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)
    assert Refund.objects.count() == 5 and {r.amount for r in Refund.objects.all()} == {Decimal("20.00")}
    export = services.refunds_export(school=debit_world.school, actor=ACTOR)
    assert (export.line_count, export.total_amount) == (3, Decimal("60.00"))
    with export.file.open("rb") as handle:
        text = handle.read().decode()
    assert text.startswith(f"H|{export.reference}|{debit_world.school.code}|") and "*" in text.splitlines()[1]
    assert services.refunds_export(school=debit_world.school, actor=ACTOR) is None  # nothing exported twice
    refs = list(export.refunds.order_by("pk").values_list("reference", "amount"))
    content = get_format("default").render_result(
        export.reference, [(refs[0][0], refs[0][1], False, "account_closed")] + [(r, a, True, "") for r, a in refs[1:]]
    )
    summary = services.refund_results_import(export=export, content=content, file_name="rr.txt", actor=ACTOR)
    assert (summary.succeeded, summary.failed) == (2, 1)
    assert Refund.objects.filter(school=debit_world.school, state=Refund.State.SETTLED).count() == 2
    failed = Refund.objects.get(reference=refs[0][0])
    assert failed.state == Refund.State.OPEN and failed.failure_reason == "账户已销户"
    # Partial refunds (lower standard) leave the students paid.
    assert set(Enrollment.objects.filter(school=debit_world.school, exemption_category__isnull=True)
               .values_list("payment_status", flat=True)) == {PaymentStatus.PAID}
    with pytest.raises(ValidationError):
        services.refund_results_import(export=export, content=content, file_name="rr.txt", actor=ACTOR)
    assert RefundExport.objects.get(pk=export.pk).state == RefundExport.State.SETTLED


def test_graduate_charged_then_deregistered_is_refunded_in_full(debit_world):
    settle_first_batch(debit_world)
    enrollment = Enrollment.objects.filter(school=debit_world.school, payment_status=PaymentStatus.PAID).first()
    ChargeCorrection.objects.create(enrollment=enrollment, amount=Decimal("-200.00"), reason=ChargeCorrection.Reason.GRADUATE)
    services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)
    services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)  # a rerun refunds nothing twice
    refund = Refund.objects.get()
    assert refund.amount == Decimal("200.00") and "毕业生停保" in refund.reason
    export = services.refunds_export(school=debit_world.school, actor=ACTOR)
    content = get_format("default").render_result(export.reference, [(refund.reference, refund.amount, True, "")])
    services.refund_results_import(export=export, content=content, file_name="g.txt", actor=ACTOR)
    enrollment.refresh_from_db()
    assert enrollment.payment_status == PaymentStatus.REFUNDED


def test_refund_result_with_unknown_reference_changes_nothing(debit_world):
    settle_first_batch(debit_world)
    enrollment = Enrollment.objects.filter(school=debit_world.school, payment_status=PaymentStatus.PAID).first()
    ChargeCorrection.objects.create(enrollment=enrollment, amount=Decimal("-200.00"), reason=ChargeCorrection.Reason.DUPLICATE)
    services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)
    export = services.refunds_export(school=debit_world.school, actor=ACTOR)
    content = get_format("default").render_result(export.reference, [("RF-NOPE", Decimal("200.00"), True, "")])
    with pytest.raises(ValidationError):
        services.refund_results_import(export=export, content=content, file_name="x.txt", actor=ACTOR)
    assert Refund.objects.get().state == Refund.State.EXPORTED


def test_extra_debit_waits_while_school_has_no_usable_account(debit_world):
    settle_first_batch(debit_world)
    debit_world.school.accounts.update(active=False)
    enrollment = Enrollment.objects.filter(school=debit_world.school, payment_status=PaymentStatus.PAID).first()
    ChargeCorrection.objects.create(enrollment=enrollment, amount=Decimal("20.00"), reason=ChargeCorrection.Reason.FEE_STANDARD)
    result = services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)
    assert result == {"refunds": 0, "adjustments": 0, "waiting": 1}
    assert ChargeCorrection.objects.get().state == ChargeCorrection.State.PENDING
