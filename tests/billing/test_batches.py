"""Debit instructions and batches: one instruction per confirmed roster, one batch per bank, never a second debit."""

import hashlib
import io
from decimal import Decimal

import pytest

from billing import services
from billing.formats import BatchHeader, BatchLine, get_format
from billing.models import DebitBatch, DebitInstruction
from billing.selectors import school_billing_status, unbillable_confirmations
from billing.tasks import generate_debit_batches
from enrollment.models import Enrollment, Job, PaymentStatus, Roster, RosterState
from enrollment.services.common import Actor
from tests.billing.conftest import confirm_roster, extra_school, make_account, make_bank
from tests.billing.helpers import batch_file_bytes
from tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor(user=None, source="job", label="test")


def generate(year):
    return services.batches_generate(insurance_year=year, actor=ACTOR)


def test_each_confirmed_roster_gets_one_instruction_of_count_times_fee(debit_world):
    generate(debit_world.year)
    instruction = DebitInstruction.objects.get(confirmation=debit_world.confirmation)
    assert (instruction.head_count, instruction.amount) == (3, Decimal("600.00"))  # the exempt student is not charged
    assert instruction.state == DebitInstruction.State.IN_BATCH
    assert DebitInstruction.objects.count() == 2


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_one_batch_per_bank_with_control_totals_and_checksum(debit_world):
    summary = generate(debit_world.year)
    assert len(summary.batches) == 1
    batch = DebitBatch.objects.get()
    assert (batch.state, batch.line_count, batch.total_amount) == (DebitBatch.State.READY, 2, Decimal("1000.00"))
    lines = batch_file_bytes(batch).decode("utf-8").splitlines()
    assert lines[0].split("|")[-2:] == ["2", "1000.00"]
    body = "".join(line + "\n" for line in lines[1:-1]).encode()
    assert lines[-1] == f"T|SHA256|{hashlib.sha256(body).hexdigest()}" and batch.checksum in lines[-1]
    ours = next(line.split("|") for line in lines[1:-1] if line.split("|")[2] == debit_world.school.code)
    assert ours[4] == debit_world.school.name and ours[5] == "600.00"
    assert ours[6] == DebitInstruction.objects.get(school=debit_world.school).reference


def test_generating_again_creates_no_second_batch_or_debit(debit_world):
    generate(debit_world.year)
    again = generate(debit_world.year)
    assert again.batches == [] and again.instructions_created == 0
    assert DebitBatch.objects.count() == 1 and DebitInstruction.objects.count() == 2


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_each_bank_gets_its_own_batch_in_its_own_format(debit_world):
    icbc = make_bank(debit_world.city, code="ICBC2", name="工商银行", file_format="icbc_fixed")
    school, _confirmation = extra_school(debit_world, "GZ-YX-009", icbc, paying=4)
    generate(debit_world.year)
    fixed = DebitBatch.objects.get(bank=icbc)
    assert (fixed.file_format, fixed.line_count, fixed.total_amount) == ("icbc_fixed", 1, Decimal("800.00"))
    content = batch_file_bytes(fixed)
    header, detail = content.split(b"\n")[:2]
    assert header.startswith(b"HDR") and header.endswith(b"00000001" + b"80000".rjust(16, b"0"))
    assert school.name.encode("gbk") in detail  # holder name in GBK
    assert DebitBatch.objects.get(bank=debit_world.bank).line_count == 2


def test_confirmed_roster_is_billed_and_its_students_are_not_paid_yet(debit_world):
    generate(debit_world.year)
    assert Roster.objects.get(pk=debit_world.confirmation.roster_id).state == RosterState.BILLED
    statuses = set(Enrollment.objects.filter(school=debit_world.school, exemption_category__isnull=True).values_list("payment_status", flat=True))
    assert PaymentStatus.PAID not in statuses


def test_provisional_fee_standard_waits(debit_world):
    debit_world.year.fee_provisional = True
    debit_world.year.save()
    summary = generate(debit_world.year)
    assert summary.batches == [] and not DebitInstruction.objects.exists()
    status = school_billing_status(school=debit_world.school, insurance_year=debit_world.year)
    assert "暂定标准" in status.blocking_reason


def test_school_without_usable_account_is_listed_with_the_reason(world, bank):
    unsigned = SchoolFactory(code="GZ-YX-002", office=world.office)
    make_account(unsigned, bank, signed=False)
    foreign_bank = make_bank(world.city, code="HSBC")
    foreign_bank.allowed_in.clear()
    foreign = SchoolFactory(code="GZ-YX-003", office=world.office)
    make_account(foreign, foreign_bank)
    for school in (world.school, unsigned, foreign):
        confirm_roster(school, world.year, world.coordinator, paying=1)
    generate(world.year)
    assert not DebitInstruction.objects.exists()
    listed = {c.roster.school_id for c in unbillable_confirmations(insurance_year=world.year)}
    assert listed == {world.school.pk, unsigned.pk, foreign.pk}
    reasons = [school_billing_status(school=s, insurance_year=world.year).blocking_reason for s in (world.school, unsigned, foreign)]
    assert "未登记有效的扣费账户" in reasons[0] and "尚未签订扣款协议" in reasons[1] and "不在本市允许划扣" in reasons[2]


def test_open_roster_is_not_billed(world, bank):
    make_account(world.school, bank)
    Roster.objects.create(school=world.school, insurance_year=world.year)
    generate(world.year)
    assert not DebitInstruction.objects.exists()


def test_totals_mismatch_stops_the_batch_with_a_clear_error(debit_world):
    # A snapshot whose totals disagree with its own lines must never reach the bank.
    type(debit_world.confirmation).objects.filter(pk=debit_world.confirmation.pk).update(total_amount=Decimal("599.00"))
    job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, insurance_year=debit_world.year)
    generate_debit_batches(job.pk)
    job.refresh_from_db()
    assert job.result["batches"] == [] and "金额不一致" in job.error
    failed = DebitBatch.objects.get()
    assert failed.state == DebitBatch.State.FAILED and "999.00" in failed.error
    assert set(DebitInstruction.objects.values_list("state", flat=True)) == {DebitInstruction.State.OPEN}
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "金额不一致" in job.error
    assert Roster.objects.get(pk=debit_world.confirmation.roster_id).state == RosterState.CONFIRMED


def test_job_shows_progress_per_bank(debit_world):
    make_bank(debit_world.city, code="BOC")
    school, _ = extra_school(debit_world, "GZ-YX-010", make_bank(debit_world.city, code="CCB"))
    job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, insurance_year=debit_world.year)
    generate_debit_batches(job.pk)
    job.refresh_from_db()
    assert (job.state, job.progress, job.total, job.percent) == (Job.State.SUCCEEDED, 2, 2, 100)
    assert len(job.result["batches"]) == 2


def test_second_live_roster_instruction_is_refused_by_the_database(debit_world):
    from django.db import IntegrityError, transaction

    generate(debit_world.year)
    original = DebitInstruction.objects.get(confirmation=debit_world.confirmation)
    with pytest.raises(IntegrityError), transaction.atomic():
        DebitInstruction.objects.create(
            reference="DUP", insurance_year=debit_world.year, roster=original.roster, confirmation=original.confirmation,
            school=original.school, account=original.account, bank=original.bank, head_count=3, amount=Decimal("600.00"),
        )


def test_default_format_round_trips_a_result_file():
    fmt = get_format("default")
    content = fmt.render_result("B1", [("DI1", Decimal("10.00"), True, ""), ("DI2", Decimal("5.50"), False, "insufficient_funds")])
    parsed = fmt.parse_result(content)
    assert (parsed.declared_count, parsed.declared_total) == (2, Decimal("15.50"))
    assert parsed.lines[1].reason_text == "余额不足" and not parsed.lines[1].succeeded


def test_icbc_format_round_trips_a_result_file():
    fmt = get_format("icbc_fixed")
    content = fmt.render_result("B1", [("DI1", Decimal("10.00"), True, ""), ("DI2", Decimal("5.50"), False, "account_closed")])
    parsed = fmt.parse_result(content)
    assert parsed.batch_reference == "B1" and parsed.declared_total == Decimal("15.50")
    assert parsed.lines[1].reason_code == "account_closed" and parsed.lines[1].reason_text == "账户已销户"


@pytest.mark.parametrize("code", ["default", "icbc_fixed"])
def test_a_bank_reads_back_the_lines_of_a_batch_file_the_format_wrote(code):
    fmt = get_format(code)
    out = io.BytesIO()
    lines = [BatchLine(1, "GZ-YX-001", "6222000011112222", "越秀第一中学", Decimal("600.00"), "DI-1"),
             BatchLine(2, "GZ-YX-002", "6222000033334444", "海珠|第一中学", Decimal("199.50"), "DI-2")]
    fmt.write(out, BatchHeader("B-2027-1", "icbc", "2027", "20261202", 2, Decimal("799.50")), lines)
    assert fmt.read_batch(out.getvalue()) == ("B-2027-1", [("DI-1", Decimal("600.00")), ("DI-2", Decimal("199.50"))])
