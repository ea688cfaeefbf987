"""Billing writes: debit instructions and batches, bank results, corrections, refunds, tax declarations, receipts.

Money must never be taken twice, so every step that could be repeated (a
retried task, a double click, two workers, a file imported twice) is either
set-based with ``ON CONFLICT DO NOTHING`` against a partial unique index, or
claims its rows with ``FOR UPDATE SKIP LOCKED`` / a conditional UPDATE inside
one short transaction, or is refused by a checksum stored under a unique index.
"""

import datetime
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.formats import BatchHeader, BatchLine, ResultFileError, get_format
from billing.formats.base import FailureReason, parse_amount
from billing.formats.declaration import DECLARATION_COLUMNS, declaration_workbook  # noqa: F401 (part of the billing API)
from billing.models import (
    DebitAttempt,
    DebitBatch,
    DebitInstruction,
    Declaration,
    ReceiptImport,
    Refund,
    RefundExport,
)
from enrollment import identity, selectors
from enrollment.models import (
    AuditEvent,
    Bank,
    ChargeCorrection,
    CollectionRoute,
    ConfirmationLine,
    InsuranceYear,
    Job,
    RosterConfirmation,
    School,
    SchoolAccount,
)
from enrollment.services import payments
from enrollment.services.common import Actor, audit_record
from enrollment.services.jobs import job_create, job_progress
from enrollment.services.outward import outward_file_missing, outward_file_place, outward_register

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")

for _model in (DebitBatch, RefundExport, Declaration):
    outward_register(_model, "file")


class BillingError(ValidationError):
    """A billing step refused with a message for bureau staff; nothing was written."""


class BatchTotalsMismatch(BillingError):
    pass


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d%H%M%S%f")


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- Debit instructions (one per live confirmation) ---------------------------------------


def _bank_debit_ready(insurance_year: InsuranceYear) -> bool:
    return insurance_year.collection_route == CollectionRoute.BANK_DEBIT and not insurance_year.fee_provisional


@transaction.atomic
def instructions_create(*, insurance_year: InsuranceYear) -> int:
    """Create the missing roster instruction of every billable live confirmation of the year, in one statement.

    Billable: the roster is confirmed, the year's fee standard is final, and the
    school has an active account with a signed agreement at a bank allowed in its
    city. Count and amount are summed from the frozen lines (exempt lines, fee 0,
    are not charged); the batch later checks them against the snapshot's totals.
    ``ON CONFLICT DO NOTHING`` on the one-live-instruction-per-confirmation index
    makes a concurrent or repeated run a no-op instead of a second debit. A
    supplementary confirmation (late students) becomes a supplementary instruction
    (kind ``supplementary``, reference ``DS...``), in the next batch of its bank.
    """
    if not _bank_debit_ready(insurance_year):
        return 0
    charges = selectors.confirmation_charges(insurance_year_id=insurance_year.pk)
    accounts = selectors.school_debit_accounts()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {DebitInstruction._meta.db_table}
                (reference, kind, insurance_year_id, roster_id, confirmation_id, school_id, account_id, bank_id,
                 head_count, amount, state, tries, last_failure, created_at)
            SELECT CASE WHEN b.supplementary THEN 'DS' ELSE 'DI' END || b.confirmation_id || '-' || %s,
                   CASE WHEN b.supplementary THEN 'supplementary' ELSE 'roster' END, b.insurance_year_id, b.roster_id,
                   b.confirmation_id, b.school_id, a.account_id, a.bank_id, b.head_count, b.amount, 'open', 0, '', now()
              FROM ({charges.sql}) b
              JOIN ({accounts.sql}) a ON a.school_id = b.school_id
             WHERE NOT EXISTS (SELECT 1 FROM {DebitInstruction._meta.db_table} i
                                WHERE i.confirmation_id = b.confirmation_id AND i.kind IN ('roster', 'supplementary')
                                  AND i.state <> 'cancelled')
            ON CONFLICT DO NOTHING
            """,
            [_stamp(), *charges.params, *accounts.params],
        )
        return cursor.rowcount


# --- Corrections: extra debits and refunds ----------------------------------------------


@transaction.atomic
def corrections_process(*, insurance_year: InsuranceYear, actor: Actor) -> dict:
    """Turn pending charge corrections into adjustment instructions (positive) or refunds (negative).

    Corrections are claimed with ``FOR UPDATE SKIP LOCKED`` so two runs cannot
    both turn the same correction into money; the one-to-one link from the
    instruction or refund to its correction is the database's second guard.
    A positive correction waits (stays pending) while the school has no usable
    account or the fee standard is still provisional.
    """
    pending = list(
        ChargeCorrection.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state=ChargeCorrection.State.PENDING, enrollment__insurance_year=insurance_year)
        .select_related("enrollment", "enrollment__school__office")
    )
    refunds, adjustments, waiting = 0, 0, 0
    for correction in pending:
        enrollment = correction.enrollment
        if correction.amount < 0:
            Refund.objects.create(
                reference=f"RF{correction.pk}-{_stamp()}", enrollment=enrollment, school_id=enrollment.school_id,
                correction=correction, amount=-correction.amount,
                reason=correction.get_reason_display() + (f"：{correction.detail}" if correction.detail else ""),
            )
            refunds += 1
        else:
            account = _usable_account(enrollment.school)
            confirmation = (
                RosterConfirmation.objects.filter(
                    roster__school_id=enrollment.school_id, roster__insurance_year=insurance_year, reopened_at__isnull=True,
                    supplementary=False,
                ).first()
            )
            if account is None or confirmation is None or not _bank_debit_ready(insurance_year):
                waiting += 1
                continue
            DebitInstruction.objects.create(
                reference=f"DA{correction.pk}-{_stamp()}", kind=DebitInstruction.Kind.ADJUSTMENT,
                insurance_year=insurance_year, roster_id=confirmation.roster_id, confirmation=confirmation,
                correction=correction, school_id=enrollment.school_id, account=account, bank_id=account.bank_id,
                head_count=1, amount=correction.amount,
            )
            adjustments += 1
        ChargeCorrection.objects.filter(pk=correction.pk).update(state=ChargeCorrection.State.IN_BILLING)
        audit_record(
            actor=actor, action=AuditEvent.Action.CORRECTION_BILLED, obj=correction, changes={"amount": correction.amount},
            school_id=enrollment.school_id, student_id=enrollment.student_id,
        )
    return {"refunds": refunds, "adjustments": adjustments, "waiting": waiting}


def _usable_account(school: School) -> SchoolAccount | None:
    return (
        SchoolAccount.objects.filter(
            school=school, active=True, agreement_signed_on__isnull=False, bank__allowed_in=school.office.city_id
        )
        .select_related("bank")
        .first()
    )


# --- Debit batches ---------------------------------------------------------------------


@dataclass
class RunSummary:
    batches: list[str] = field(default_factory=list)
    instructions_created: int = 0
    refunds: int = 0
    adjustments: int = 0
    errors: list[str] = field(default_factory=list)


def batches_generate(*, insurance_year: InsuranceYear, actor: Actor, job: Job | None = None) -> RunSummary:
    """Create missing instructions, then one batch per bank with open instructions, each with its file.

    Not one transaction on purpose: each bank's batch commits on its own, so a
    worker killed halfway leaves finished banks finished and the bank it was
    writing fully rolled back (its instructions still open for the next run).
    Safe to run again at any time: a run finds only what is still open.
    """
    summary = RunSummary()
    summary.errors.extend(batch_files_repair(insurance_year=insurance_year))
    summary.instructions_created = instructions_create(insurance_year=insurance_year)
    corrections = corrections_process(insurance_year=insurance_year, actor=actor)
    summary.refunds, summary.adjustments = corrections["refunds"], corrections["adjustments"]
    bank_ids = list(
        DebitInstruction.objects.filter(insurance_year=insurance_year, state=DebitInstruction.State.OPEN)
        .values_list("bank_id", flat=True).distinct().order_by("bank_id")
    )
    job_progress(job=job, progress=0, total=len(bank_ids))
    for done, bank_id in enumerate(bank_ids, start=1):
        try:
            batch = batch_generate_for_bank(insurance_year=insurance_year, bank=Bank.objects.get(pk=bank_id), actor=actor)
        except BatchTotalsMismatch as exc:
            summary.errors.extend(exc.messages)
        else:
            if batch is not None:
                summary.batches.append(batch.reference)
        job_progress(job=job, progress=done)
    return summary


def _batch_lines(batch_id: int) -> Iterator[BatchLine]:
    rows = (
        DebitAttempt.objects.filter(batch_id=batch_id)
        .order_by("line_number")
        .values_list(
            "line_number", "instruction__school__code", "instruction__account__account_number",
            "instruction__account__holder_name", "amount", "instruction__reference",
        )
        .iterator(chunk_size=2000)
    )
    for row in rows:
        yield BatchLine(*row)


def batch_generate_for_bank(*, insurance_year: InsuranceYear, bank: Bank, actor: Actor) -> DebitBatch | None:
    """Gather the bank's open instructions into one batch and write its file; None when there is nothing open.

    Raises BatchTotalsMismatch (after recording a failed batch for staff) when the
    control totals disagree; then nothing is claimed and nothing is sent.
    """
    try:
        return _batch_generate_for_bank(insurance_year=insurance_year, bank=bank, actor=actor)
    except BatchTotalsMismatch as exc:
        DebitBatch.objects.create(
            bank=bank, insurance_year=insurance_year, reference=f"B{bank.code}-{_stamp()}"[:40],
            state=DebitBatch.State.FAILED, file_format=bank.file_format, error="\n".join(exc.messages),
            created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
        )
        logger.error("debit batch stopped: totals mismatch", extra={"bank": bank.code, "year": insurance_year.pk})
        raise


@transaction.atomic
def _batch_generate_for_bank(*, insurance_year: InsuranceYear, bank: Bank, actor: Actor) -> DebitBatch | None:
    with connection.cursor() as cursor:
        # One generator per bank and year at a time, until it commits: two runs claiming
        # with SKIP LOCKED side by side would each lock part of the bank's instructions
        # and send the bank two files. The run that finds the lock taken leaves the bank
        # to the run holding it (or, should that one fail, to the next run).
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"debit-batch:{bank.pk}:{insurance_year.pk}"],
        )
        if not cursor.fetchone()[0]:
            return None
    fmt = get_format(bank.file_format)
    batch = DebitBatch.objects.create(
        bank=bank, insurance_year=insurance_year, reference=f"B{bank.code}-{_stamp()}"[:40], file_format=fmt.code,
        created_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
    )
    table = DebitInstruction._meta.db_table
    with connection.cursor() as cursor:
        # Claim: two workers (or a retried task racing the original, or a double
        # click) each lock only rows nobody else holds; the loser finds nothing
        # left and creates no batch, so an instruction can never be in two files.
        # The state check re-runs after the lock, so a row claimed and committed
        # by another worker meanwhile is skipped too.
        cursor.execute(
            f"""
            WITH claimed AS (
                SELECT id FROM {table}
                 WHERE insurance_year_id = %s AND bank_id = %s AND state = 'open'
                 ORDER BY id FOR UPDATE SKIP LOCKED)
            UPDATE {table} i SET state = 'in_batch', batch_id = %s, tries = i.tries + 1
              FROM claimed WHERE i.id = claimed.id
            """,
            [insurance_year.pk, bank.pk, batch.pk],
        )
        if cursor.rowcount == 0:
            transaction.set_rollback(True)
            return None
        cursor.execute(
            f"""
            INSERT INTO {DebitAttempt._meta.db_table} (instruction_id, batch_id, line_number, amount, result, failure_reason)
            SELECT i.id, i.batch_id, row_number() OVER (ORDER BY s.code, i.id), i.amount, 'pending', ''
              FROM {table} i JOIN {School._meta.db_table} s ON s.id = i.school_id
             WHERE i.batch_id = %s
            """,
            [batch.pk],
        )
        # Control totals, three ways: the lines, the instructions, and what the
        # schools confirmed (snapshot totals; the correction for an adjustment).
        cursor.execute(
            f"""
            SELECT count(*), COALESCE(sum(a.amount), 0), COALESCE(sum(i.amount), 0), COALESCE(sum(i.head_count), 0),
                   COALESCE(sum(CASE WHEN i.kind IN ('roster', 'supplementary') THEN c.total_amount ELSE cc.amount END), 0),
                   COALESCE(sum(CASE WHEN i.kind IN ('roster', 'supplementary') THEN c.paying_count ELSE 1 END), 0)
              FROM {DebitAttempt._meta.db_table} a
              JOIN {table} i ON i.id = a.instruction_id
              JOIN {RosterConfirmation._meta.db_table} c ON c.id = i.confirmation_id
              LEFT JOIN {ChargeCorrection._meta.db_table} cc ON cc.id = i.correction_id
             WHERE a.batch_id = %s
            """,
            [batch.pk],
        )
        count, line_sum, instruction_sum, head_count, confirmed_sum, confirmed_heads = cursor.fetchone()
    errors = []
    if line_sum != instruction_sum or line_sum != confirmed_sum:
        errors.append(
            _("%(bank)s扣款批次金额不一致：明细合计%(lines)s元，扣款指令合计%(instr)s元，确认名单合计%(conf)s元。批次已停止，请核对确认名单。")
            % {"bank": bank.name, "lines": line_sum, "instr": instruction_sum, "conf": confirmed_sum}
        )
    if head_count != confirmed_heads:
        errors.append(
            _("%(bank)s扣款批次人数不一致：扣款指令合计%(instr)d人，确认名单合计%(conf)d人。批次已停止，请核对确认名单。")
            % {"bank": bank.name, "instr": head_count, "conf": confirmed_heads}
        )
    if errors:
        raise BatchTotalsMismatch(errors, code="totals_mismatch")

    batch.line_count, batch.total_amount = count, line_sum
    # Staged, and moved to its final name only after this transaction commits: a
    # crash before commit leaves no file a reader could take for a real batch.
    checksum = _batch_file_write(batch=batch, fmt=fmt)
    batch.state = DebitBatch.State.READY
    batch.line_count, batch.total_amount, batch.checksum = count, line_sum, checksum
    batch.save(update_fields=["state", "line_count", "total_amount", "checksum", "file"])
    confirmation_ids = list(
        DebitInstruction.objects.filter(batch=batch, kind=DebitInstruction.Kind.ROSTER).values_list("confirmation_id", flat=True)
    )
    payments.rosters_mark_billed(confirmation_ids=confirmation_ids, actor=actor)
    audit_record(actor=actor, action=AuditEvent.Action.DEBIT_BATCH_GENERATED, obj=batch, changes={"lines": count, "amount": line_sum})
    return batch


def _batch_file_write(*, batch: DebitBatch, fmt) -> str:
    """Write a batch's file from its rows (streamed: memory stays flat); returns the file's checksum."""
    header = BatchHeader(
        batch_reference=batch.reference, bank_code=batch.bank.code, year_label=batch.insurance_year.label,
        created_on=timezone.localtime(batch.created_at).strftime("%Y%m%d"), line_count=batch.line_count,
        total_amount=batch.total_amount,
    )
    with tempfile.TemporaryFile() as tmp:
        checksum, written, written_sum = fmt.write(tmp, header, _batch_lines(batch.pk))
        if written != batch.line_count or written_sum != batch.total_amount:
            raise BatchTotalsMismatch(
                [_("%(bank)s扣款文件写入%(n)d笔%(sum)s元，与控制数%(count)d笔%(total)s元不符。")
                 % {"bank": batch.bank.name, "n": written, "sum": written_sum, "count": batch.line_count,
                    "total": batch.total_amount}],
                code="totals_mismatch",
            )
        tmp.seek(0)
        outward_file_place(instance=batch, field_name="file", file_name=f"{batch.reference}.{fmt.extension}", content=File(tmp))
    return checksum


def batch_files_repair(*, insurance_year: InsuranceYear) -> list[str]:
    """Rewrite the file of every ready batch whose file is missing (a crash after commit), from its rows.

    The rewritten file must carry the checksum recorded on the batch, so the bank
    gets the very file the first run meant to send; otherwise it is refused loudly.
    """
    errors = []
    for batch in DebitBatch.objects.filter(insurance_year=insurance_year, state=DebitBatch.State.READY).select_related(
        "bank", "insurance_year"
    ):
        if not outward_file_missing(batch.file.name):
            continue
        with transaction.atomic():
            checksum = _batch_file_write(batch=batch, fmt=get_format(batch.file_format))
            if checksum != batch.checksum:
                transaction.set_rollback(True)
                errors.append(_("批次%(ref)s的扣款文件与记录的校验值不符，未重写，请联系系统管理员。") % {"ref": batch.reference})
                continue
            DebitBatch.objects.filter(pk=batch.pk).update(file=batch.file.name)
        logger.warning("debit batch %s: missing file written again from its rows", batch.reference)
    return errors


# --- Bank results ----------------------------------------------------------------------


@dataclass
class ResultSummary:
    succeeded: int = 0
    failed: int = 0
    flagged: int = 0


def _refuse(messages):
    raise BillingError([str(m) for m in messages], code="result_refused")


def _guard_result_file(content: bytes, file_name: str) -> bytes:
    """The intake's checks for a bank's fixed-layout text file (size, not binary) before its format parses it."""
    from enrollment.imports import intake

    try:
        return intake.guard_text(content, file_name)
    except intake.FileRejected as exc:
        _refuse(exc.messages)


def batch_results_import(*, batch: DebitBatch, content: bytes, file_name: str, actor: Actor) -> ResultSummary:
    """Apply the bank's result file to a batch, or refuse it whole.

    Phase 1 checks everything (the batch, totals, every reference, no line
    missing or repeated, the file not imported before); phase 2 writes in one
    transaction holding the batch row lock, so a file uploaded twice at the same
    moment is applied once.
    """
    checksum = _sha256(content)
    fmt = get_format(batch.file_format)
    try:
        parsed = fmt.parse_result(_guard_result_file(content, file_name))
    except ResultFileError as exc:
        _refuse([_("%(file)s：%(msg)s") % {"file": file_name, "msg": m} for m in exc.messages])
    errors = []
    if DebitBatch.objects.filter(result_checksum=checksum).exists():
        errors.append(_("%(file)s：该结果文件已导入过（校验值相同），不能重复导入。") % {"file": file_name})
    if batch.state != DebitBatch.State.READY:
        errors.append(_("批次%(ref)s当前状态为“%(state)s”，不能导入结果。") % {"ref": batch.reference, "state": batch.get_state_display()})
    if parsed.batch_reference != batch.reference:
        errors.append(_("%(file)s第1行：批次号%(got)s与所选批次%(ref)s不符。") % {"file": file_name, "got": parsed.batch_reference, "ref": batch.reference})
    line_total = sum((line.amount for line in parsed.lines), ZERO)
    if parsed.declared_count != len(parsed.lines) or parsed.declared_total != line_total:
        errors.append(
            _("%(file)s第1行：文件头控制数%(count)d笔%(total)s元，与明细%(n)d笔%(sum)s元不符。")
            % {"file": file_name, "count": parsed.declared_count, "total": parsed.declared_total, "n": len(parsed.lines), "sum": line_total}
        )
    if parsed.declared_count != batch.line_count or parsed.declared_total != batch.total_amount:
        errors.append(
            _("%(file)s：结果文件%(count)d笔%(total)s元，与批次%(ref)s的%(bc)d笔%(bt)s元不符。")
            % {"file": file_name, "count": parsed.declared_count, "total": parsed.declared_total, "ref": batch.reference,
               "bc": batch.line_count, "bt": batch.total_amount}
        )
    attempts = {a.instruction.reference: a for a in batch.attempts.select_related("instruction")}
    seen = set()
    for line in parsed.lines:
        attempt = attempts.get(line.instruction_reference)
        where = {"file": file_name, "n": line.line_number, "ref": line.instruction_reference}
        if attempt is None:
            errors.append(_("%(file)s第%(n)d行：指令号%(ref)s不属于本批次。") % where)
        elif line.instruction_reference in seen:
            errors.append(_("%(file)s第%(n)d行：指令号%(ref)s重复出现。") % where)
        elif attempt.amount != line.amount:
            errors.append(_("%(file)s第%(n)d行：指令号%(ref)s金额%(got)s元与扣款金额%(want)s元不符。") % {**where, "got": line.amount, "want": attempt.amount})
        seen.add(line.instruction_reference)
    missing = sorted(set(attempts) - seen)
    if missing:
        errors.append(_("%(file)s：缺少%(n)d笔指令的结果：%(refs)s。") % {"file": file_name, "n": len(missing), "refs": "、".join(missing[:10])})
    if errors:
        _refuse(errors)
    return _apply_results(batch=batch, parsed=parsed, checksum=checksum, actor=actor)


@transaction.atomic
def _apply_results(*, batch, parsed, checksum, actor) -> ResultSummary:
    locked = DebitBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.state != DebitBatch.State.READY:
        _refuse([_("批次%(ref)s的结果已导入，不能重复导入。") % {"ref": batch.reference}])
    summary = ResultSummary()
    now = timezone.now()
    max_tries = settings.DEBIT_MAX_TRIES
    attempts = {a.instruction.reference: a for a in locked.attempts.select_related("instruction__confirmation", "instruction__correction")}
    for line in parsed.lines:
        attempt = attempts[line.instruction_reference]
        instruction = attempt.instruction
        if line.succeeded:
            DebitAttempt.objects.filter(pk=attempt.pk).update(result=DebitAttempt.Result.SUCCEEDED)
            DebitInstruction.objects.filter(pk=instruction.pk).update(
                state=DebitInstruction.State.SUCCEEDED, settled_at=now, last_failure=""
            )
            if instruction.kind in (DebitInstruction.Kind.ROSTER, DebitInstruction.Kind.SUPPLEMENTARY):
                payments.roster_settle(confirmation=instruction.confirmation, actor=actor, paid_at=now)
            else:
                ChargeCorrection.objects.filter(pk=instruction.correction_id).update(state=ChargeCorrection.State.DONE)
            summary.succeeded += 1
        else:
            reason = line.reason_text or FailureReason.label(line.reason_code)
            DebitAttempt.objects.filter(pk=attempt.pk).update(result=DebitAttempt.Result.FAILED, failure_reason=reason[:200])
            flagged = instruction.tries >= max_tries
            DebitInstruction.objects.filter(pk=instruction.pk).update(
                state=DebitInstruction.State.FLAGGED if flagged else DebitInstruction.State.OPEN,
                batch=None, last_failure=reason[:200],
            )
            summary.failed += 1
            summary.flagged += int(flagged)
    locked.state = DebitBatch.State.RESULTS_IMPORTED
    locked.results_imported_at = now
    locked.result_checksum = checksum
    locked.succeeded_count, locked.failed_count = summary.succeeded, summary.failed
    locked.save(update_fields=["state", "results_imported_at", "result_checksum", "succeeded_count", "failed_count"])
    audit_record(actor=actor, action=AuditEvent.Action.DEBIT_RESULTS_IMPORTED, obj=locked,
                 changes={"succeeded": summary.succeeded, "failed": summary.failed, "flagged": summary.flagged})
    return summary


@transaction.atomic
def instruction_retry(*, instruction: DebitInstruction, actor: Actor) -> None:
    """Bureau staff put a flagged instruction back for the next batch (e.g. after the school topped up its account)."""
    changed = DebitInstruction.objects.filter(pk=instruction.pk, state=DebitInstruction.State.FLAGGED).update(
        state=DebitInstruction.State.OPEN, tries=0
    )
    if not changed:
        raise BillingError(_("只有多次失败待处理的扣款指令可以重新扣款。"), code="not_flagged")
    audit_record(actor=actor, action=AuditEvent.Action.DEBIT_INSTRUCTION_RETRIED, obj=instruction, school_id=instruction.school_id)


# --- Refund files ---------------------------------------------------------------------


def refunds_export(*, school: School, actor: Actor) -> RefundExport | None:
    """Gather a school's open refunds into one refund file; None when nothing is open.

    First rewrites any of the school's refund files that a crash left missing
    (the row committed, the file not moved into place), from the refunds in it.
    """
    refund_files_repair(school=school)
    return _refunds_export(school=school, actor=actor)


def _refund_file_content(*, export: RefundExport, refunds: list[Refund]) -> tuple[bytes, str, Decimal]:
    """The refund file of ``export`` (refunds in id order); returns content, checksum of its lines, total."""
    school = export.school
    account = SchoolAccount.objects.filter(school=school, active=True).first()
    total = sum((r.amount for r in refunds), ZERO)
    digest = hashlib.sha256()
    body = []
    for number, refund in enumerate(refunds, start=1):
        student = refund.enrollment.student
        row = "|".join(["D", str(number), refund.reference, student.name.replace("|", " "),
                        identity.mask(student.identity_number), f"{refund.amount:.2f}", refund.reason.replace("|", " ")])
        data = (row + "\n").encode("utf-8")
        digest.update(data)
        body.append(data)
    head = "|".join(["H", export.reference, school.code, account.account_number if account else "",
                     (account.holder_name if account else school.name).replace("|", " "), str(len(refunds)), f"{total:.2f}"])
    content = (head + "\n").encode("utf-8") + b"".join(body) + f"T|SHA256|{digest.hexdigest()}\n".encode()
    return content, digest.hexdigest(), total


def refund_files_repair(*, school: School) -> list[str]:
    """Rewrite every exported refund file of the school whose file is missing, checked against the row's checksum."""
    from django.core.files.base import ContentFile

    errors = []
    for export in RefundExport.objects.filter(school=school, state=RefundExport.State.EXPORTED).select_related("school"):
        if not outward_file_missing(export.file.name):
            continue
        refunds = list(Refund.objects.filter(export=export).select_related("enrollment__student").order_by("id"))
        content, checksum, total = _refund_file_content(export=export, refunds=refunds)
        if (checksum, len(refunds), total) != (export.checksum, export.line_count, export.total_amount):
            errors.append(_("退费文件%(ref)s与记录的笔数、金额或校验值不符，未重写，请联系系统管理员。") % {"ref": export.reference})
            logger.error("refund export %s: rows no longer match the file recorded", export.reference)
            continue
        with transaction.atomic():
            name = outward_file_place(instance=export, field_name="file", file_name=f"{export.reference}.txt",
                                      content=ContentFile(content))
            RefundExport.objects.filter(pk=export.pk).update(file=name)
        logger.warning("refund export %s: missing file written again from its rows", export.reference)
    return errors


@transaction.atomic
def _refunds_export(*, school, actor):
    from django.core.files.base import ContentFile

    # Claimed with SKIP LOCKED: two exports at once cannot put a refund in two files.
    refunds = list(
        Refund.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(school=school, state=Refund.State.OPEN)
        .select_related("enrollment__student")
        .order_by("id")
    )
    if not refunds:
        return None
    export = RefundExport.objects.create(reference=f"RE{school.code}-{_stamp()}"[:40], school=school)
    content, checksum, total = _refund_file_content(export=export, refunds=refunds)
    # Staged; moved to its final name once this transaction commits.
    outward_file_place(instance=export, field_name="file", file_name=f"{export.reference}.txt", content=ContentFile(content))
    export.line_count, export.total_amount, export.checksum = len(refunds), total, checksum
    export.save(update_fields=["file", "line_count", "total_amount", "checksum"])
    Refund.objects.filter(pk__in=[r.pk for r in refunds]).update(
        state=Refund.State.EXPORTED, export=export, export_reference=export.reference
    )
    audit_record(actor=actor, action=AuditEvent.Action.REFUNDS_EXPORTED, obj=export, school_id=school.pk, changes={"lines": len(refunds), "amount": total})
    return export


FULL_REFUND_REASONS = {ChargeCorrection.Reason.EXEMPTION, ChargeCorrection.Reason.GRADUATE, ChargeCorrection.Reason.LEFT}


def refund_results_import(*, export: RefundExport, content: bytes, file_name: str, actor: Actor) -> ResultSummary:
    """Settle a refund file from the bank's answer (same layout as debit results); refuse it whole on any mismatch."""
    checksum = _sha256(content)
    from billing.formats.default import PipeFormat

    try:
        parsed = PipeFormat().parse_result(_guard_result_file(content, file_name))
    except ResultFileError as exc:
        _refuse([_("%(file)s：%(msg)s") % {"file": file_name, "msg": m} for m in exc.messages])
    errors = []
    if RefundExport.objects.filter(result_checksum=checksum).exists() or export.state != RefundExport.State.EXPORTED:
        errors.append(_("%(file)s：该退费结果已导入过，不能重复导入。") % {"file": file_name})
    if parsed.batch_reference != export.reference:
        errors.append(_("%(file)s第1行：退费批次号%(got)s与%(ref)s不符。") % {"file": file_name, "got": parsed.batch_reference, "ref": export.reference})
    refunds = {r.reference: r for r in export.refunds.select_related("enrollment", "correction")}
    line_total = sum((line.amount for line in parsed.lines), ZERO)
    if (parsed.declared_count, parsed.declared_total) != (len(parsed.lines), line_total) or (len(parsed.lines), line_total) != (
        export.line_count, export.total_amount
    ):
        errors.append(_("%(file)s：控制数与明细或退费文件（%(n)d笔%(t)s元）不符。") % {"file": file_name, "n": export.line_count, "t": export.total_amount})
    seen = set()
    for line in parsed.lines:
        refund = refunds.get(line.instruction_reference)
        if refund is None or line.instruction_reference in seen or refund.amount != line.amount:
            errors.append(_("%(file)s第%(n)d行：退费编号%(ref)s不属于本文件、重复或金额不符。")
                          % {"file": file_name, "n": line.line_number, "ref": line.instruction_reference})
        seen.add(line.instruction_reference)
    if set(refunds) - seen:
        errors.append(_("%(file)s：缺少%(n)d笔退费的结果。") % {"file": file_name, "n": len(set(refunds) - seen)})
    if errors:
        _refuse(errors)
    with transaction.atomic():
        locked = RefundExport.objects.select_for_update().get(pk=export.pk)
        if locked.state != RefundExport.State.EXPORTED:
            _refuse([_("该退费结果已导入过，不能重复导入。")])
        summary = ResultSummary()
        now = timezone.now()
        for line in parsed.lines:
            refund = refunds[line.instruction_reference]
            if line.succeeded:
                Refund.objects.filter(pk=refund.pk).update(state=Refund.State.SETTLED, settled_at=now)
                if refund.correction_id:
                    ChargeCorrection.objects.filter(pk=refund.correction_id).update(state=ChargeCorrection.State.DONE)
                full = refund.correction is not None and refund.correction.reason in FULL_REFUND_REASONS
                payments.enrollment_mark_refunded(enrollment=refund.enrollment, actor=actor, full=full)
                summary.succeeded += 1
            else:
                # Back to open: it goes into the school's next refund file.
                Refund.objects.filter(pk=refund.pk).update(
                    state=Refund.State.OPEN, export=None, failure_reason=(line.reason_text or "")[:200]
                )
                summary.failed += 1
        locked.state, locked.result_checksum = RefundExport.State.SETTLED, checksum
        locked.save(update_fields=["state", "result_checksum"])
        audit_record(actor=actor, action=AuditEvent.Action.REFUND_RESULTS_IMPORTED, obj=locked, school_id=locked.school_id,
                     changes={"succeeded": summary.succeeded, "failed": summary.failed})
    return summary


# --- Tax declarations (Suzhou route) -----------------------------------------------------


def declarations_generate(*, insurance_year: InsuranceYear, actor: Actor, job: Job | None = None) -> list[str]:
    """Declare every live confirmation not declared yet, then write every workbook still missing.

    Resumable: the workbooks are written for all live declarations of the year
    whose file is missing or does not match the checksum on the row, not only for
    those this run created, so a rerun after any crash ends where one clean run
    would. Returns the references of the declarations this run created.
    """
    created = declarations_create(insurance_year=insurance_year, actor=actor)
    to_write = [
        d for d in Declaration.objects.filter(insurance_year=insurance_year).exclude(state=Declaration.State.CANCELLED)
        .select_related("school", "insurance_year").order_by("id")
        if not declaration_file_ok(declaration=d)
    ]
    job_progress(job=job, progress=0, total=len(to_write))
    for done, declaration in enumerate(to_write, start=1):
        declaration_write_file(declaration=declaration)
        job_progress(job=job, progress=done)
    return list(Declaration.objects.filter(pk__in=created).values_list("reference", flat=True))


def declaration_file_ok(*, declaration: Declaration) -> bool:
    """The declaration's workbook is in place and is the one recorded on the row (its checksum)."""
    if not declaration.checksum or outward_file_missing(declaration.file.name):
        return False
    with declaration.file.open("rb") as handle:
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == declaration.checksum


@transaction.atomic
def declarations_create(*, insurance_year: InsuranceYear, actor: Actor) -> list[int]:
    """One Declaration per live confirmation (paying lines only), set-based; repeated runs add nothing.

    A supplementary confirmation (late students) is declared on its own as a supplementary declaration
    (reference ``TS...``), in the next run after it was confirmed.
    """
    if insurance_year.collection_route != CollectionRoute.TAX_DECLARATION or insurance_year.fee_provisional:
        return []
    charges = selectors.confirmation_charges(insurance_year_id=insurance_year.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Declaration._meta.db_table}
                (reference, insurance_year_id, roster_id, confirmation_id, school_id, head_count, amount, state, file,
                 payment_method, receipted_count, created_at, checksum, supplementary)
            SELECT CASE WHEN b.supplementary THEN 'TS' ELSE 'TD' END || b.confirmation_id || '-' || %s, b.insurance_year_id,
                   b.roster_id, b.confirmation_id, b.school_id, b.head_count, b.amount, 'declared', '', '', 0, now(), '',
                   b.supplementary
              FROM ({charges.sql}) b
             WHERE NOT EXISTS (SELECT 1 FROM {Declaration._meta.db_table} d
                                WHERE d.confirmation_id = b.confirmation_id AND d.state <> 'cancelled')
            ON CONFLICT DO NOTHING
            RETURNING id, confirmation_id
            """,
            [_stamp(), *charges.params],
        )
        rows = cursor.fetchall()
    # A declaration must agree with what the school confirmed; otherwise stop before anything is declared.
    mismatched = list(
        Declaration.objects.filter(pk__in=[r[0] for r in rows])
        .exclude(amount=F("confirmation__total_amount"), head_count=F("confirmation__paying_count"))
        .values_list("school__name", flat=True)
    )
    if mismatched:
        raise BatchTotalsMismatch(
            _("以下学校的申报人数或金额与确认名单合计不符，申报已停止：%(schools)s") % {"schools": "、".join(mismatched)},
            code="totals_mismatch",
        )
    payments.rosters_mark_billed(confirmation_ids=[r[1] for r in rows], actor=actor)
    return [r[0] for r in rows]


def _declaration_rows(declaration: Declaration):
    return (
        ConfirmationLine.objects.filter(confirmation_id=declaration.confirmation_id, fee__gt=0)
        .order_by("enrollment__student__class_name", "enrollment__student__name", "id")
        .values_list("enrollment__student__name", "enrollment__student__identity_number", "fee",
                     "enrollment__student__document_type")
        .iterator(chunk_size=2000)
    )


@transaction.atomic
def declaration_write_file(*, declaration: Declaration) -> None:
    """Write the workbook the tax system takes (write-only mode: rows stream, memory stays flat)."""
    writer, count, total = declaration_workbook(
        school=declaration.school, year_label=declaration.insurance_year.label, lines=_declaration_rows(declaration),
        supplementary=declaration.supplementary,
    )
    if count != declaration.head_count or total != declaration.amount:
        raise BatchTotalsMismatch(_("申报%(ref)s明细与申报合计不符。") % {"ref": declaration.reference}, code="totals_mismatch")
    with tempfile.TemporaryFile() as tmp:
        writer.save(tmp)
        tmp.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: tmp.read(1 << 20), b""):
            digest.update(chunk)
        tmp.seek(0)
        # Staged; moved to its final name once the row below commits.
        outward_file_place(instance=declaration, field_name="file", file_name=f"{declaration.reference}.xlsx", content=File(tmp))
    declaration.checksum = digest.hexdigest()
    Declaration.objects.filter(pk=declaration.pk).update(file=declaration.file.name, checksum=declaration.checksum)


@transaction.atomic
def declaration_record_payment(
    *, declaration: Declaration, method: str, actor: Actor, paid_at: datetime.datetime | None = None
) -> Declaration:
    """The school paid the declared amount: by bank transfer, or by electronic debit if it signed an agreement."""
    locked = Declaration.objects.select_for_update().select_related("school").get(pk=declaration.pk)
    if method not in Declaration.PaymentMethod.values:
        raise BillingError({"method": _("缴款方式无效，应为银行转账或电子扣款。")}, code="invalid")
    if locked.state != Declaration.State.DECLARED:
        raise BillingError(
            _("申报%(ref)s当前状态为“%(state)s”，不能再登记缴款。") % {"ref": locked.reference, "state": locked.get_state_display()},
            code="already_paid",
        )
    if method == Declaration.PaymentMethod.ELECTRONIC_DEBIT and not SchoolAccount.objects.filter(
        school_id=locked.school_id, active=True, agreement_signed_on__isnull=False
    ).exists():
        raise BillingError(
            {"method": _("%(school)s未签订扣款协议，不能选择电子扣款，请改为银行转账。") % {"school": locked.school.name}},
            code="no_agreement",
        )
    locked.state, locked.payment_method, locked.paid_at = Declaration.State.PAID, method, paid_at or timezone.now()
    locked.save(update_fields=["state", "payment_method", "paid_at"])
    audit_record(actor=actor, action=AuditEvent.Action.DECLARATION_PAID, obj=locked, school_id=locked.school_id, changes={"method": method})
    return locked


@dataclass
class ReceiptRow:
    row: int
    identity_number: str
    receipt_number: str
    amount: Decimal


def _read_receipt_file(content: bytes, file_name: str) -> list[ReceiptRow]:
    from enrollment.imports import intake

    try:
        # The one intake for uploaded lists: real type, size and archive checks, calamine, CSV in UTF-8 or GBK.
        table = intake.read_rows(content, file_name)
    except intake.FileRejected as exc:
        raise BillingError(exc.messages, code="invalid_file") from exc
    rows, errors = [], []
    for number, values in enumerate(table, start=1):
        if number == 1 or not values or all(v in (None, "") for v in values):
            continue
        values = list(values) + [None] * 3
        where = {"file": file_name, "row": number}
        try:
            id_number = identity.validate(values[0])
        except ValidationError as exc:
            errors.append(_("%(file)s第%(row)d行A列（证件号码）：%(msg)s") % {**where, "msg": exc.messages[0]})
            continue
        receipt = str(values[1] or "").strip()
        if not receipt:
            errors.append(_("%(file)s第%(row)d行B列（电子票据号）：不能为空。") % where)
            continue
        try:
            amount = parse_amount(str(values[2] if values[2] is not None else ""), _("%(file)s第%(row)d行C列（金额）") % where)
        except ResultFileError as exc:
            errors.extend(exc.messages)
            continue
        rows.append(ReceiptRow(number, id_number, receipt, amount))
    if errors:
        raise BillingError(errors, code="invalid_rows")
    return rows


def receipts_import(*, insurance_year: InsuranceYear, content: bytes, file_name: str, actor: Actor) -> int:
    """Import e-receipt numbers per student; students with a receipt are paid. All rows valid, or nothing written."""
    checksum = _sha256(content)
    if ReceiptImport.objects.filter(checksum=checksum).exists():
        _refuse([_("%(file)s：该票据文件已导入过，不能重复导入。") % {"file": file_name}])
    rows = _read_receipt_file(content, file_name)
    if not rows:
        _refuse([_("%(file)s：没有票据数据。") % {"file": file_name}])
    numbers = [r.identity_number for r in rows]
    # Paying lines of paid declarations of the year, keyed by identity number.
    lines = {
        number: (enrollment_id, fee, declaration_id, receipt)
        for number, enrollment_id, fee, declaration_id, receipt in ConfirmationLine.objects.filter(
            fee__gt=0, enrollment__student__identity_number__in=numbers,
            confirmation__declarations__insurance_year=insurance_year,
            confirmation__declarations__state__in=[Declaration.State.PAID, Declaration.State.RECEIPTED],
        ).values_list("enrollment__student__identity_number", "enrollment_id", "fee", "confirmation__declarations__id",
                      "enrollment__receipt_number")
    }
    errors, seen = [], set()
    for row in rows:
        where = {"file": file_name, "row": row.row}
        line = lines.get(row.identity_number)
        if row.identity_number in seen:
            errors.append(_("%(file)s第%(row)d行A列（证件号码）：与前面的行重复。") % where)
        elif line is None:
            errors.append(_("%(file)s第%(row)d行A列（证件号码）：不在已缴款的申报名单中。") % where)
        elif line[1] != row.amount:
            errors.append(_("%(file)s第%(row)d行C列（金额）：%(got)s元与申报金额%(want)s元不符。") % {**where, "got": row.amount, "want": line[1]})
        elif line[3]:
            errors.append(_("%(file)s第%(row)d行B列（电子票据号）：该学生已有电子票据%(r)s。") % {**where, "r": line[3]})
        seen.add(row.identity_number)
    if errors:
        _refuse(errors)
    with transaction.atomic():
        ReceiptImport.objects.create(
            insurance_year=insurance_year, file_name=file_name[:255], checksum=checksum, receipt_count=len(rows),
            imported_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
        )
        payments.enrollments_mark_paid(receipts={lines[r.identity_number][0]: r.receipt_number for r in rows}, actor=actor)
        declaration_ids = {lines[r.identity_number][2] for r in rows}
        for declaration in Declaration.objects.select_for_update().filter(pk__in=declaration_ids).select_related("confirmation"):
            receipted = ConfirmationLine.objects.filter(
                confirmation_id=declaration.confirmation_id, fee__gt=0
            ).exclude(enrollment__receipt_number="").count()
            declaration.receipted_count = receipted
            if receipted >= declaration.head_count:
                declaration.state = Declaration.State.RECEIPTED
            declaration.save(update_fields=["receipted_count", "state"])
            payments.roster_settle_if_paid(confirmation=declaration.confirmation, actor=actor)
    return len(rows)


# --- Downloads -------------------------------------------------------------------------


@transaction.atomic
def billing_file_download_log(*, user, batch=None, declaration=None, refund_export=None, file_name: str):
    from billing.models import BillingFileDownload

    return BillingFileDownload.objects.create(
        user=user, batch=batch, declaration=declaration, refund_export=refund_export, file_name=file_name[:255]
    )


# --- Starting background runs (admin button, API) --------------------------------------


def billing_job_start(*, insurance_year: InsuranceYear, user) -> Job:
    """Start the year's billing run by its route: debit batches or tax declarations."""
    if insurance_year.collection_route == CollectionRoute.BANK_DEBIT:
        return debit_batches_start(insurance_year=insurance_year, user=user)
    return declarations_start(insurance_year=insurance_year, user=user)


@transaction.atomic
def debit_batches_start(*, insurance_year: InsuranceYear, user) -> Job:
    """Bureau staff start batch generation now; the task runs after commit and reports progress on the Job.

    With the broker down the Job stays pending and the sweeper sends it later (the page says "queued").
    """
    from billing.tasks import generate_debit_batches

    if insurance_year.collection_route != CollectionRoute.BANK_DEBIT:
        raise BillingError(_("%(year)s的缴费方式不是银行扣费。") % {"year": insurance_year}, code="wrong_route")
    return job_create(
        kind=Job.Kind.BATCH_GENERATION, task=generate_debit_batches, insurance_year=insurance_year, created_by=user,
        params={"insurance_year_id": insurance_year.pk},
    )


@transaction.atomic
def declarations_start(*, insurance_year: InsuranceYear, user) -> Job:
    from billing.tasks import generate_declarations

    if insurance_year.collection_route != CollectionRoute.TAX_DECLARATION:
        raise BillingError(_("%(year)s的缴费方式不是税务申报。") % {"year": insurance_year}, code="wrong_route")
    return job_create(
        kind=Job.Kind.DECLARATION_GENERATION, task=generate_declarations, insurance_year=insurance_year,
        created_by=user, params={"insurance_year_id": insurance_year.pk},
    )
