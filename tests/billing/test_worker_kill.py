"""Real Celery workers killed with SIGKILL at random points of debit-batch and tax-declaration runs, again and again.

Each round adds a little work, starts a run through the service staff use, kills
the task process after a random delay (seeded; the seed is printed), lets the
recovery the design relies on finish the job (the message handed back, or the
job sweeper), and then checks the whole state: every paying roster in exactly one
committed file, each file equal to what its rows say (lines, amounts, checksum),
no file under a final name without its row, and no job left running or pending.
"""

import hashlib
import io
import os
import random
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from billing import services
from billing.formats import get_format
from billing.models import DebitAttempt, DebitBatch, DebitInstruction, Declaration
from enrollment.models import CollectionRoute, ConfirmationLine, Job, RosterConfirmation
from enrollment.services.outward import outward_files_sweep
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import SchoolFactory
from tests.worker_pool import final_files, kill_jobs, staged_files

pytestmark = [pytest.mark.worker, pytest.mark.long, pytest.mark.django_db(transaction=True)]
KILLS = int(os.environ.get("KILL_TEST_KILLS") or 20)  # fewer for a quick look; CI runs 20


def seeded(name: str) -> random.Random:
    seed = int(os.environ.get("KILL_TEST_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"{name}: KILL_TEST_SEED={seed}")
    return random.Random(seed)


def batch_files_agree_with_rows(root) -> None:
    confirmations = dict(
        RosterConfirmation.objects.filter(reopened_at__isnull=True).values_list("pk", "total_amount")
    )
    live = list(
        DebitInstruction.objects.exclude(state="cancelled")
        .values_list("pk", "confirmation_id", "state", "batch__state", "amount")
    )
    # Every confirmed roster has one live instruction, in a ready batch, for what the school confirmed.
    assert sorted(c for _, c, *_rest in live) == sorted(confirmations)
    for _pk, confirmation, state, batch_state, amount in live:
        assert (state, batch_state, amount) == (DebitInstruction.State.IN_BATCH, DebitBatch.State.READY,
                                                confirmations[confirmation])
    attempts = sorted(DebitAttempt.objects.values_list("instruction_id", flat=True))
    assert attempts == sorted(pk for pk, *_rest in live)  # one line each, in one batch only
    assert not DebitBatch.objects.exclude(state=DebitBatch.State.READY).exists()  # killed runs left no half batch
    in_files = []
    for batch in DebitBatch.objects.select_related("bank"):
        fmt = get_format(batch.file_format)
        content = (root / batch.file.name).read_bytes()
        body = content.split(b"\n")[1:-2]
        # The file is its rows: each line as the format writes it from the row, in order, and nothing else.
        expected = [fmt.line(line).encode(fmt.encoding) for line in services._batch_lines(batch.pk)]
        assert body == expected, batch
        assert len(body) == batch.line_count
        assert batch.total_amount == sum((a.amount for a in batch.attempts.all()), Decimal("0"))
        assert hashlib.sha256(b"".join(line + b"\n" for line in body)).hexdigest() == batch.checksum
        assert batch.checksum.encode() in content.split(b"\n")[-2]
        in_files.extend(batch.attempts.values_list("instruction__reference", flat=True))
    assert len(in_files) == len(set(in_files)) == len(confirmations)
    # Under final names only files with a committed row: nothing a reader could take for a batch.
    assert final_files(root, "bank-batches") == {b.file.name for b in DebitBatch.objects.all()}


def test_workers_killed_during_debit_batches_never_bill_a_roster_twice_or_lose_one(world, kill_broker):
    pool, rng = kill_broker, seeded("debit batches")
    banks = [make_bank(world.city, code=f"K{i}", file_format="icbc_fixed" if i % 2 else "default") for i in range(3)]

    def start(round_):
        for n in range(2):
            school = SchoolFactory(code=f"KS{round_:03d}{n}", office=world.office)
            make_account(school, rng.choice(banks))
            confirm_roster(school, world.year, world.coordinator, paying=rng.randint(2, 4))
        return services.debit_batches_start(insurance_year=world.year, user=world.city_staff).pk

    counts = kill_jobs(pool, rng, start=start, check=lambda: batch_files_agree_with_rows(pool.media),
                       kills=KILLS, span=0.35, max_rounds=KILLS * 4)
    print("debit batches:", counts)
    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.SUCCEEDED}
    outward_files_sweep(older_than=__import__("datetime").timedelta(0))
    assert staged_files(pool.media) == set()
    batch_files_agree_with_rows(pool.media)


_read_workbooks: dict[str, tuple[int, Decimal, Decimal, list[str]]] = {}


def _workbook(content: bytes, checksum: str):
    """Lines, their sum, the total row and the identity numbers of a workbook (read once per checksum)."""
    if checksum not in _read_workbooks:
        header, *rows = load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True)
        fee, number = header.index("缴费金额"), header.index("证件号码")
        lines, total = rows[:-1], rows[-1]
        _read_workbooks[checksum] = (
            len(lines), sum((Decimal(str(row[fee])) for row in lines), Decimal("0")), Decimal(str(total[fee])),
            [row[number] for row in lines],
        )
    return _read_workbooks[checksum]


def declaration_files_agree_with_rows(root) -> None:
    declarations = list(Declaration.objects.all())
    assert len(declarations) == RosterConfirmation.objects.filter(reopened_at__isnull=True).count()
    declared = []
    for declaration in declarations:
        content = (root / declaration.file.name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == declaration.checksum, declaration
        count, line_sum, total, numbers = _workbook(content, declaration.checksum)
        assert count == declaration.head_count
        assert line_sum == total == declaration.amount
        declared.extend(numbers)
    paying = list(ConfirmationLine.objects.filter(fee__gt=0).values_list("enrollment__student__identity_number", flat=True))
    assert sorted(declared) == sorted(paying) and len(set(declared)) == len(declared)
    assert final_files(root, "declarations") == {d.file.name for d in declarations}


def test_workers_killed_during_declarations_leave_every_paying_student_in_one_workbook(world, kill_broker):
    pool, rng = kill_broker, seeded("declarations")
    world.year.collection_route = CollectionRoute.TAX_DECLARATION
    world.year.fee_standard = Decimal("140.00")
    world.year.save()

    def start(round_):
        for n in range(2):
            school = SchoolFactory(code=f"TD{round_:03d}{n}", office=world.office)
            confirm_roster(school, world.year, world.coordinator, paying=rng.randint(2, 4))
        return services.declarations_start(insurance_year=world.year, user=world.city_staff).pk

    counts = kill_jobs(pool, rng, start=start, check=lambda: declaration_files_agree_with_rows(pool.media),
                       kills=KILLS, span=0.6, max_rounds=KILLS * 4)
    print("declarations:", counts)
    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.SUCCEEDED}
    outward_files_sweep(older_than=__import__("datetime").timedelta(0))
    assert staged_files(pool.media) == set()
    declaration_files_agree_with_rows(pool.media)
