"""A real Celery worker killed whole with SIGKILL mid-job: the sweeper finds the job and it is finished.

Nothing redelivers the message here (no process was left to reject it, and the
broker's visibility timeout is minutes away), so only the sweeper can recover:
it sees the job's heartbeat stop and its advisory lock gone with the worker's
connection, re-queues the job (its task is safe to run twice) and sends it to the
worker started again.
"""

import datetime
import os
import signal
import subprocess
import time

import pytest

from billing.models import DebitBatch, DebitInstruction
from config.celery import app as current_app
from enrollment.models import Job, RosterConfirmation
from enrollment.services import jobs
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import SchoolFactory
from tests.worker_pool import BROKER, ROOT, worker_env
from tests.worker_pool import wait as _wait


@pytest.fixture
def real_broker():
    """Tasks sent to the Redis the test's worker listens on (the default queue of this run's Redis database)."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url, current_app._pool
    conf.task_always_eager, conf.broker_url, current_app._pool = False, BROKER, None
    current_app.amqp._producer_pool = None
    redis = current_app.connection_for_write().default_channel.client
    redis.delete("celery")
    yield
    redis.delete("celery")
    current_app.pool.force_close_all()
    conf.task_always_eager, conf.broker_url, current_app._pool = saved
    current_app.amqp._producer_pool = None


def start_worker(log):
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "tests.billing.slow_worker", "worker", "--pool=prefork", "--concurrency=1",
         "-Q", "celery", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"sweeper-{os.getpid()}@%h",
         "-l", "WARNING"],
        cwd=ROOT, env=worker_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def lock_free(job_id):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [jobs.JOB_LOCK_SPACE, job_id])
        if cursor.fetchone()[0]:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [jobs.JOB_LOCK_SPACE, job_id])
            return True
    return False


def holders(job_id):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.pid, a.state, a.wait_event, left(a.query, 80) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.objid = %s",
            [job_id],
        )
        return cursor.fetchall()


def job_of(pk):
    return Job.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_whole_worker_was_killed_is_requeued_by_the_sweeper_and_finished(world, tmp_path, real_broker):
    from billing.services import debit_batches_start

    banks = [make_bank(world.city, code=f"S{i}") for i in range(3)]
    for n in range(30):
        school = SchoolFactory(code=f"SW{n:03d}", office=world.office)
        make_account(school, banks[n % 3])
        confirm_roster(school, world.year, world.coordinator, paying=3)
    log = open(tmp_path / "worker.log", "wb")
    worker = start_worker(log)
    try:
        job = debit_batches_start(insurance_year=world.year, user=world.city_staff)  # sent after commit, to the worker
        assert _wait(lambda: job_of(job.pk).state == Job.State.RUNNING, 60), (tmp_path / "worker.log").read_text()
        time.sleep(0.3)
        os.killpg(worker.pid, signal.SIGKILL)  # parent and child: nobody rejects the message
        worker.wait()
        dead = job_of(job.pk)
        assert dead.state == Job.State.RUNNING  # what used to stay for good

        # The server drops a dead client's session (and with it the job's lock) once it notices the socket closed.
        assert _wait(lambda: lock_free(job.pk), 30), holders(job.pk)
        # The negative control: a sweep with the real limit leaves a job that just stopped beating alone.
        assert jobs.jobs_sweep().requeued == []
        summary = jobs.jobs_sweep(now=dead.heartbeat_at + jobs.HEARTBEAT_LIMIT + datetime.timedelta(seconds=1))
        assert summary.requeued == [job.pk] and summary.resent == [job.pk], (summary, job_of(job.pk).__dict__)
        queued = job_of(job.pk)
        assert queued.state == Job.State.PENDING and "重新排队" in queued.error

        worker = start_worker(log)
        assert _wait(lambda: job_of(job.pk).state == Job.State.SUCCEEDED, 90), (tmp_path / "worker.log").read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()

    done = job_of(job.pk)
    assert done.attempts == 2 and done.error == ""
    # Every confirmed roster in exactly one ready batch, whatever the kill interrupted.
    for confirmation in RosterConfirmation.objects.filter(reopened_at__isnull=True):
        instruction = DebitInstruction.objects.exclude(state="cancelled").get(confirmation=confirmation)
        assert instruction.state == DebitInstruction.State.IN_BATCH and instruction.batch.state == DebitBatch.State.READY
