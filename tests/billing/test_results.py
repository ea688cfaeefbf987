"""Bank result files: success settles, failure retries then flags, a file that does not match changes nothing."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from billing import services
from billing.models import DebitAttempt, DebitBatch, DebitInstruction
from billing.selectors import school_billing_status
from enrollment.models import Enrollment, PaymentStatus, Roster, RosterState
from enrollment.services.common import Actor
from tests.billing.helpers import answer

pytestmark = pytest.mark.django_db
ACTOR = Actor(user=None, source="admin", label="test")


def generate(year):
    services.batches_generate(insurance_year=year, actor=ACTOR)
    return DebitBatch.objects.filter(state=DebitBatch.State.READY).order_by("-created_at").first()


def import_(batch, content, name="result.txt"):
    return services.batch_results_import(batch=batch, content=content, file_name=name, actor=ACTOR)


def snapshot():
    return (
        list(DebitInstruction.objects.order_by("pk").values_list("state", "tries", "batch_id")),
        list(Roster.objects.order_by("pk").values_list("state", flat=True)),
        list(Enrollment.objects.order_by("pk").values_list("payment_status", flat=True)),
        list(DebitBatch.objects.order_by("pk").values_list("state", flat=True)),
    )


def test_all_succeeded_settles_instructions_rosters_and_students(debit_world):
    batch = generate(debit_world.year)
    summary = import_(batch, answer(batch))
    assert (summary.succeeded, summary.failed) == (2, 0)
    assert set(DebitInstruction.objects.values_list("state", flat=True)) == {DebitInstruction.State.SUCCEEDED}
    assert set(Roster.objects.values_list("state", flat=True)) == {RosterState.SETTLED}
    paid = Enrollment.objects.filter(school=debit_world.school, exemption_category__isnull=True)
    assert all(e.payment_status == PaymentStatus.PAID and e.paid_at for e in paid)
    exempt = Enrollment.objects.get(school=debit_world.school, exemption_category__isnull=False)
    assert exempt.payment_status != PaymentStatus.PAID
    batch.refresh_from_db()
    assert batch.state == DebitBatch.State.RESULTS_IMPORTED and batch.succeeded_count == 2


def test_mixed_result_settles_one_and_returns_the_other_to_the_next_batch(debit_world):
    batch = generate(debit_world.year)
    failing = DebitInstruction.objects.get(school=debit_world.other_school)
    import_(batch, answer(batch, {failing.reference: "insufficient_funds"}))
    failing.refresh_from_db()
    assert (failing.state, failing.batch, failing.last_failure) == (DebitInstruction.State.OPEN, None, "余额不足")
    assert Roster.objects.get(school=debit_world.other_school).state == RosterState.BILLED
    assert Roster.objects.get(school=debit_world.school).state == RosterState.SETTLED
    status = school_billing_status(school=debit_world.other_school, insurance_year=debit_world.year)
    assert status.failures[0]["last_failure"] == "余额不足"

    retry = generate(debit_world.year)
    assert retry.pk != batch.pk and list(retry.instructions.all()) == [failing]
    assert retry.line_count == 1 and retry.total_amount == Decimal("400.00")
    failing.refresh_from_db()
    assert failing.tries == 2


@override_settings(DEBIT_MAX_TRIES=2)
def test_failing_up_to_max_tries_flags_the_instruction_for_staff_and_coordinator(debit_world):
    failing = None
    for _round in range(2):
        batch = generate(debit_world.year)
        failing = DebitInstruction.objects.get(school=debit_world.other_school)
        import_(batch, answer(batch, {failing.reference: "account_closed"}), name=f"r{_round}.txt")
    failing.refresh_from_db()
    assert failing.state == DebitInstruction.State.FLAGGED and failing.tries == 2
    assert generate(debit_world.year) is None or not DebitInstruction.objects.filter(state="in_batch").exists()
    status = school_billing_status(school=debit_world.other_school, insurance_year=debit_world.year)
    assert status.flagged and "多次扣款失败" in status.blocking_reason
    services.instruction_retry(instruction=failing, actor=ACTOR)
    failing.refresh_from_db()
    assert failing.state == DebitInstruction.State.OPEN


def test_wrong_totals_are_refused_and_change_nothing(debit_world):
    batch = generate(debit_world.year)
    content = answer(batch).replace(b"|1000.00\n", b"|999.00\n", 1)
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        import_(batch, content)
    assert "控制数" in " ".join(exc.value.messages)
    assert snapshot() == before


def test_wrong_amount_on_a_line_is_refused(debit_world):
    batch = generate(debit_world.year)
    ref = DebitInstruction.objects.get(school=debit_world.school).reference
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        import_(batch, answer(batch, amounts={ref: Decimal("1.00")}))
    assert any("金额" in m for m in exc.value.messages)
    assert snapshot() == before


def test_unknown_reference_is_refused_and_changes_nothing(debit_world):
    batch = generate(debit_world.year)
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        import_(batch, answer(batch, extra=[("DI-NOT-OURS", Decimal("0.00"), True, "")]))
    assert any("DI-NOT-OURS" in m and "不属于本批次" in m for m in exc.value.messages)
    assert snapshot() == before


def test_missing_line_is_refused(debit_world):
    batch = generate(debit_world.year)
    ref = DebitInstruction.objects.get(school=debit_world.school).reference
    with pytest.raises(ValidationError) as exc:
        import_(batch, answer(batch, drop={ref}))
    assert any("缺少" in m for m in exc.value.messages)


def test_result_file_imported_twice_is_refused(debit_world):
    batch = generate(debit_world.year)
    content = answer(batch)
    import_(batch, content)
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        import_(batch, content)
    assert any("已导入过" in m for m in exc.value.messages)
    assert snapshot() == before
    assert DebitAttempt.objects.filter(result="succeeded").count() == 2


def test_result_for_another_batch_is_refused(debit_world):
    batch = generate(debit_world.year)
    content = answer(batch).replace(batch.reference.encode(), b"BOTHER-1", 1)
    with pytest.raises(ValidationError) as exc:
        import_(batch, content)
    assert any("批次号" in m for m in exc.value.messages)


def test_unreadable_line_names_the_line(debit_world):
    batch = generate(debit_world.year)
    with pytest.raises(ValidationError) as exc:
        import_(batch, f"H|{batch.reference}|1|600.00\nD|X|abc|S\n".encode(), name="bank.txt")
    assert any("bank.txt" in m and "第2行" in m for m in exc.value.messages)
