"""Bank-side helpers: read a generated batch file and answer it."""

from billing.formats import get_format
from billing.models import DebitBatch


def batch_file_bytes(batch: DebitBatch) -> bytes:
    with batch.file.open("rb") as handle:
        return handle.read()


def answer(batch: DebitBatch, failures: dict | None = None, *, amounts: dict | None = None, drop: set | None = None, extra=()):
    """The bank's result file for ``batch``: every line succeeded unless listed in ``failures`` (ref -> reason)."""
    failures, amounts, drop = failures or {}, amounts or {}, drop or set()
    rows = [
        (a.instruction.reference, amounts.get(a.instruction.reference, a.amount), a.instruction.reference not in failures,
         failures.get(a.instruction.reference, ""))
        for a in batch.attempts.select_related("instruction").order_by("line_number")
        if a.instruction.reference not in drop
    ]
    rows.extend(extra)
    return get_format(batch.file_format).render_result(batch.reference, rows)
