"""A real Celery worker killed with SIGKILL in the middle of batch generation, again and again.

Afterwards every confirmed roster is in exactly one batch, each batch's totals
match its lines and its file, and no line is duplicated or missing.
"""

import datetime
import io
import os
import random
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from billing.formats import get_format
from billing.models import DebitAttempt, DebitBatch, DebitInstruction
from enrollment.models import Job, RosterConfirmation
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import SchoolFactory
from tests.testenv import database_url

ROOT = Path(__file__).resolve().parents[2]
# The Redis database of this test run (each developer runs with their own REDIS_URL).
BROKER = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/4"
QUEUE = "billing-kill-test"
KILLS = 10


def _worker_env(media=None):
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if media is not None:
        env["PRIVATE_MEDIA_ROOT"] = str(media)
    env.update(
        DATABASE_URL=database_url(db),
        REDIS_URL=BROKER, CELERY_BROKER_URL=BROKER, CELERY_TASK_ALWAYS_EAGER="0",
        # Slow enough to be killed while writing a file, fast enough for the suite (tests.billing.slow_worker).
        TEST_LINE_DELAY_SECONDS="0.02", DB_CONN_MAX_AGE="0",
    )
    return env


def _start_worker(log, media=None):
    # prefork with one child: the child runs the task, the parent forks a fresh
    # child when it dies. Its own session lets the test kill the whole worker.
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "tests.billing.slow_worker", "worker", "--pool=prefork", "--concurrency=1", "-Q", QUEUE,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"billing-kill-{os.getpid()}@%h", "-l", "WARNING"],
        cwd=ROOT, env=_worker_env(media), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _task_process(worker):
    children = psutil.Process(worker.pid).children()
    return children[0].pid if children else None


def _job_state(job_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT state FROM enrollment_job WHERE id = %s", [job_id])
        return cursor.fetchone()[0]


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_workers_never_bill_a_roster_twice_or_lose_one(world, tmp_path):
    rng = random.Random(20141231)
    banks = [make_bank(world.city, code=f"K{i}", file_format="icbc_fixed" if i % 2 else "default") for i in range(5)]
    counter = iter(range(10_000))

    def add_schools(n):
        for _ in range(n):
            school = SchoolFactory(code=f"KS{next(counter):04d}", office=world.office)
            make_account(school, rng.choice(banks))
            confirm_roster(school, world.year, world.coordinator, paying=rng.randint(1, 3))

    add_schools(10)
    producer = Celery(broker=BROKER, set_as_current=False)
    redis = producer.connection_for_write().default_channel.client
    redis.delete(QUEUE)
    log = open(tmp_path / "worker.log", "wb")
    worker = _start_worker(log)
    kills = rounds = 0

    def send(job):
        producer.send_task("billing.tasks.generate_debit_batches", args=[job.pk], queue=QUEUE)

    def started_at(job):
        return Job.objects.values_list("started_at", flat=True).get(pk=job.pk)

    try:
        job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, insurance_year=world.year)
        send(job)
        last = None
        while kills < KILLS and rounds < KILLS * 6:
            rounds += 1
            add_schools(3)  # fresh work every round, so each kill lands in a real run
            # A run starts: the first delivery, the redelivery after a killed task process,
            # or the task sent again after the whole worker was killed.
            if not _wait(lambda last=last: started_at(job) != last, 10):
                send(job)
                assert _wait(lambda last=last: started_at(job) != last, 60), (tmp_path / "worker.log").read_text()
            last = started_at(job)
            # Short pauses: on a busy machine a long one lets the run finish before the kill.
            time.sleep(rng.uniform(0.0, 0.3))
            mid_run = _job_state(job.pk) == Job.State.RUNNING
            if rounds in (3, 7):
                # The whole worker dies (parent and child), then is started again; its
                # unacknowledged message only comes back after the visibility timeout,
                # so the run is sent again, as the job sweeper would (test_job_sweeper).
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                worker = _start_worker(log)
                send(job)
            else:
                # The process running the task dies; the parent forks a new one and,
                # with acks_late + reject_on_worker_lost, the run is delivered again and
                # takes the job over (its dead owner's lock went with its connection).
                pid = _task_process(worker)
                if pid:
                    os.kill(pid, signal.SIGKILL)
            kills += int(mid_run)
        assert kills >= KILLS

        # A final, uninterrupted run picks up whatever the killed runs left open.
        job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, insurance_year=world.year)
        producer.send_task("billing.tasks.generate_debit_batches", args=[job.pk], queue=QUEUE)
        assert _wait(lambda: _job_state(job.pk) == Job.State.SUCCEEDED, 60), (tmp_path / "worker.log").read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
        redis.delete(QUEUE)

    confirmations = RosterConfirmation.objects.filter(reopened_at__isnull=True)
    assert confirmations.count() == 10 + 3 * rounds
    for confirmation in confirmations:
        live = DebitInstruction.objects.filter(confirmation=confirmation).exclude(state="cancelled")
        assert live.count() == 1, confirmation
        instruction = live.get()
        assert instruction.state == DebitInstruction.State.IN_BATCH and instruction.batch.state == DebitBatch.State.READY
        assert instruction.amount == confirmation.total_amount
        assert DebitAttempt.objects.filter(instruction=instruction).count() == 1
    assert not DebitBatch.objects.exclude(state=DebitBatch.State.READY).exists()  # killed runs left nothing behind

    seen = []
    for batch in DebitBatch.objects.all():
        attempts = list(batch.attempts.select_related("instruction").order_by("line_number"))
        assert [a.line_number for a in attempts] == list(range(1, len(attempts) + 1))
        assert batch.line_count == len(attempts) and batch.total_amount == sum((a.amount for a in attempts), Decimal("0"))
        fmt = get_format(batch.file_format)
        with batch.file.open("rb") as handle:
            body = handle.read().split(b"\n")[1:-2]
        assert len(body) == len(attempts)
        for line, attempt in zip(body, attempts, strict=True):
            assert attempt.instruction.reference.encode(fmt.encoding) in line
        seen.extend(a.instruction.reference for a in attempts)
    assert len(seen) == len(set(seen)) == confirmations.count()


DECLARATION_KILLS = 6


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_workers_leave_every_declaration_with_its_one_workbook(world, tmp_path, settings):
    root = tmp_path / "private"  # the worker and this test share it; nothing else lives there
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)},
    }}
    """Tax declarations under kills: after the recovery (redelivery, or a rerun) every paying student is in exactly
    one committed workbook, each workbook is the one its row records, and no file lies about without a row."""
    import hashlib

    from openpyxl import load_workbook

    from billing.models import Declaration
    from enrollment.models import CollectionRoute, ConfirmationLine
    from enrollment.services.outward import outward_files_sweep

    world.year.collection_route = CollectionRoute.TAX_DECLARATION
    world.year.fee_standard = Decimal("140.00")
    world.year.save()
    rng = random.Random(20191130)
    counter = iter(range(10_000))

    def add_schools(n):
        for _ in range(n):
            school = SchoolFactory(code=f"TD{next(counter):04d}", office=world.office)
            confirm_roster(school, world.year, world.coordinator, paying=rng.randint(2, 4))

    add_schools(8)
    producer = Celery(broker=BROKER, set_as_current=False)
    redis = producer.connection_for_write().default_channel.client
    redis.delete(QUEUE)
    log = open(tmp_path / "worker.log", "wb")
    worker = _start_worker(log, media=root)
    kills = rounds = 0
    job = Job.objects.create(kind=Job.Kind.DECLARATION_GENERATION, insurance_year=world.year)

    def send():
        producer.send_task("billing.tasks.generate_declarations", args=[job.pk], queue=QUEUE)

    def started_at():
        return Job.objects.values_list("started_at", flat=True).get(pk=job.pk)

    try:
        send()
        last = None
        while kills < DECLARATION_KILLS and rounds < DECLARATION_KILLS * 6:
            rounds += 1
            add_schools(2)
            if not _wait(lambda last=last: started_at() != last, 10):
                send()
                assert _wait(lambda last=last: started_at() != last, 60), (tmp_path / "worker.log").read_text()
            last = started_at()
            time.sleep(rng.uniform(0.0, 0.3))
            mid_run = _job_state(job.pk) == Job.State.RUNNING
            pid = _task_process(worker)
            if pid:
                os.kill(pid, signal.SIGKILL)  # redelivered (acks_late) and taken over: the dead owner's lock is gone
            kills += int(mid_run)
        assert kills >= DECLARATION_KILLS
        # The recovery: the last redelivery, or a run started again, writes whatever is missing.
        rerun = Job.objects.create(kind=Job.Kind.DECLARATION_GENERATION, insurance_year=world.year)
        producer.send_task("billing.tasks.generate_declarations", args=[rerun.pk], queue=QUEUE)
        assert _wait(lambda: _job_state(rerun.pk) == Job.State.SUCCEEDED, 90), (tmp_path / "worker.log").read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
        redis.delete(QUEUE)

    assert _job_state(job.pk) != Job.State.PENDING
    declarations = list(Declaration.objects.select_related("school"))
    confirmations = RosterConfirmation.objects.filter(reopened_at__isnull=True)
    assert len(declarations) == confirmations.count() == 8 + 2 * rounds
    declared = []
    for declaration in declarations:
        with declaration.file.open("rb") as handle:
            content = handle.read()
        assert hashlib.sha256(content).hexdigest() == declaration.checksum, declaration
        rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(min_row=2, values_only=True))[:-1]
        assert len(rows) == declaration.head_count
        declared.extend(row[5] for row in rows)
    paying = list(ConfirmationLine.objects.filter(fee__gt=0).values_list("enrollment__student__identity_number", flat=True))
    assert sorted(declared) == sorted(paying) and len(set(declared)) == len(declared)
    # No workbook without a row: once the leftovers are swept, the only files are the declarations' own.
    outward_files_sweep(older_than=datetime.timedelta(0))
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert on_disk == {d.file.name for d in declarations}
