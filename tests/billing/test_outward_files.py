"""Files for banks and the tax department: exactly one per committed row, whatever a crash interrupts.

A crash is the process dying: here the move of a staged file into place (run
after commit) raises an error that nothing in the code catches, as a SIGKILL at
that instant would stop everything after it.
"""

import hashlib
import os
import time
from pathlib import Path

import pytest

from billing import services
from billing.models import DebitBatch, DebitInstruction, Declaration
from enrollment.models import RosterConfirmation
from enrollment.services import outward
from enrollment.services.common import Actor
from tests.billing.conftest import extra_school, make_bank

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor(user=None, source="job", label="test")


class Killed(BaseException):
    """The process died here (a BaseException: no ``except Exception`` in the code stops it)."""


@pytest.fixture
def storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")},
    }}
    return tmp_path / "private"


def die_after_first_commit(monkeypatch):
    real = outward._publish
    calls = []

    def publish(staged, final):
        calls.append(final)
        if len(calls) > 1:
            raise Killed(final)
        return real(staged, final)

    monkeypatch.setattr(outward, "_publish", publish)


def files_under(root: Path, folder: str) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*") if p.is_file())


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_declarations_killed_after_commit_are_all_written_by_the_rerun(tax_world, storage, monkeypatch):
    for n in range(3):
        extra_school(tax_world, f"SZ-EX-{n}", paying=2)
    die_after_first_commit(monkeypatch)
    with pytest.raises(Killed):
        services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    # The rows are committed (the rosters show billed) but workbooks are missing: the reported loss.
    assert Declaration.objects.count() == 4
    assert len(files_under(storage, "declarations")) == 1

    monkeypatch.undo()
    assert services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR) == []  # nothing new declared

    declarations = list(Declaration.objects.all())
    for declaration in declarations:
        path = storage / declaration.file.name
        assert path.exists() and sha(path) == declaration.checksum, declaration
    assert len(files_under(storage, "declarations")) == len(declarations)
    assert sum(d.head_count for d in declarations) == sum(
        c.paying_count for c in RosterConfirmation.objects.filter(reopened_at__isnull=True)
    )
    # Staged leftovers of the dead run are finished or swept; nothing else remains.
    outward.outward_files_sweep(older_than=__import__("datetime").timedelta(0))
    assert files_under(storage, "staging") == []


def test_debit_batches_killed_after_commit_get_the_same_file_back_on_the_rerun(debit_world, storage, monkeypatch):
    extra_school(debit_world, "GZ-YX-020", make_bank(debit_world.city, code="CCB"))
    extra_school(debit_world, "GZ-YX-021", make_bank(debit_world.city, code="BOC"))
    die_after_first_commit(monkeypatch)
    with pytest.raises(Killed):
        services.batches_generate(insurance_year=debit_world.year, actor=ACTOR)
    committed = list(DebitBatch.objects.filter(state=DebitBatch.State.READY))
    missing = [b for b in committed if not (storage / b.file.name).exists()]
    assert missing, "the crash must leave a committed batch without its file"

    monkeypatch.undo()
    services.batches_generate(insurance_year=debit_world.year, actor=ACTOR)

    batches = list(DebitBatch.objects.all())
    assert len(batches) == 3 and {b.state for b in batches} == {DebitBatch.State.READY}
    for batch in batches:
        assert sha(storage / batch.file.name) == batch.checksum or batch.checksum in (storage / batch.file.name).read_text(
            encoding="gbk", errors="ignore"
        )
    # Every instruction in exactly one batch, every batch in exactly one file.
    assert not DebitInstruction.objects.filter(state=DebitInstruction.State.OPEN).exists()
    assert len(files_under(storage, "bank-batches")) == len(batches)
    rewritten = DebitBatch.objects.get(pk=missing[0].pk)
    assert rewritten.file.name == missing[0].file.name and rewritten.checksum == missing[0].checksum


def test_an_orphan_file_is_swept_and_never_listed(debit_world, storage, client):
    import datetime

    services.batches_generate(insurance_year=debit_world.year, actor=ACTOR)
    real = DebitBatch.objects.get()
    # What a crash before commit used to leave: a complete file under a reference with no row.
    orphan = storage / "bank-batches" / "2026" / "BICBC-20261201000000.txt"
    staged = storage / "staging" / "bank-batches" / "2026" / "BICBC-20261202000000.txt"
    for path in (orphan, staged):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((storage / real.file.name).read_bytes())
        old = time.time() - 7200
        os.utime(path, (old, old))

    client.force_login(debit_world.city_staff)
    listing = client.get("/admin/billing/debitbatch/").content.decode()
    assert real.reference in listing and "20261201000000" not in listing and "20261202000000" not in listing

    swept = outward.outward_files_sweep(older_than=datetime.timedelta(hours=1))

    assert not orphan.exists() and not staged.exists()
    assert (storage / real.file.name).exists()  # a file with its row stays
    assert set(swept["removed"]) == {"bank-batches/2026/BICBC-20261201000000.txt",
                                     "staging/bank-batches/2026/BICBC-20261202000000.txt"}


def test_a_young_staged_file_is_left_for_the_transaction_that_may_still_commit(debit_world, storage):
    import datetime

    staged = storage / "staging" / "bank-batches" / "2026" / "BICBC-young.txt"
    staged.parent.mkdir(parents=True)
    staged.write_text("H|...")
    outward.outward_files_sweep(older_than=datetime.timedelta(hours=1))
    assert staged.exists()


def test_a_refund_file_lost_after_commit_is_written_again_by_the_next_export(debit_world, storage, monkeypatch):
    from decimal import Decimal

    from billing.models import RefundExport
    from enrollment.services.fees import fee_standard_publish
    from tests.billing.test_corrections import settle_first_batch

    settle_first_batch(debit_world)
    fee_standard_publish(actor=ACTOR, insurance_year=debit_world.year, fee_standard=Decimal("180.00"))
    services.corrections_process(insurance_year=debit_world.year, actor=ACTOR)

    def killed(staged, final):
        raise Killed(final)

    monkeypatch.setattr(outward, "_publish", killed)
    with pytest.raises(Killed):
        services.refunds_export(school=debit_world.school, actor=ACTOR)
    export = RefundExport.objects.get()
    assert export.line_count == 3 and not (storage / export.file.name).exists()  # committed, its file not in place
    (storage / "staging" / export.file.name).unlink()  # and the staged copy lost too: only the rows are left

    monkeypatch.undo()
    assert services.refunds_export(school=debit_world.school, actor=ACTOR) is None  # nothing new to export
    text = (storage / export.file.name).read_text()
    lines = text.splitlines()
    assert lines[0].startswith(f"H|{export.reference}|") and len(lines) == 1 + 3 + 1
    assert lines[-1] == f"T|SHA256|{export.checksum}"
    assert RefundExport.objects.count() == 1
