"""Real Celery workers for the kill tests, started once for the whole test run and killed one task process at a time.

Two prefork workers with one task process each, on PostgreSQL and Redis, running
``tests.billing.slow_worker`` (file writing slowed in the task process only):

- ``redeliver``: production behaviour; a killed task process's message comes back
  (``acks_late`` + ``reject_on_worker_lost``) and the job is taken over;
- ``lost``: a killed task process's message is dropped, as when a whole worker
  dies; only the job sweeper finishes the job.

A kill is a SIGKILL to the task process; the worker's parent forks a fresh one
at once, so a kill costs a fork, not a worker start. Both workers share one
media folder with the test (``kill_pool.media``), emptied before each test.
"""

import contextlib
import datetime
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.testenv import database_url

ROOT = Path(__file__).resolve().parent.parent
# The Redis database of this test run (each developer runs with their own REDIS_URL).
BROKER = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/4"
# Slow enough to be killed mid-file and between a commit and the move of the file into place.
LINE_DELAY = "0.03"
PUBLISH_DELAY = "0.05"


def wait(predicate, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def worker_env(media: Path | None = None, broker: str = BROKER, **extra) -> dict:
    env = dict(os.environ)
    if media is not None:
        env["PRIVATE_MEDIA_ROOT"] = str(media)
    env.update(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=broker, CELERY_BROKER_URL=broker, CELERY_TASK_ALWAYS_EAGER="0", DB_CONN_MAX_AGE="0",
        TEST_LINE_DELAY_SECONDS=LINE_DELAY, TEST_PUBLISH_DELAY_SECONDS=PUBLISH_DELAY, **extra,
    )
    return env


class Worker:
    """One prefork worker (one task process) on one queue; ``kill`` hits only the task process."""

    def __init__(self, name: str, queue: str, env: dict, log: Path, pool: str = "prefork"):
        self.name, self.queue, self.log = name, queue, log
        self.killed = None
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "tests.billing.slow_worker", "worker", f"--pool={pool}", "--concurrency=1",
             "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
             "-l", "WARNING"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def task_process(self) -> int | None:
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):  # a child reaped between the listing and the look
                if child.status() != psutil.STATUS_ZOMBIE:
                    return child.pid
        return None

    def kill(self) -> int | None:
        """SIGKILL the task process (the parent forks its successor, which takes the next message)."""
        pid = self.task_process()
        if pid is None or pid == self.killed:  # the successor is not forked yet: wait for it
            assert wait(lambda: self.task_process() not in (None, self.killed), 60), self.log.read_text()
            pid = self.task_process()
        os.kill(pid, signal.SIGKILL)
        self.killed = pid
        return pid

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


class KillPool:
    def __init__(self, base: Path):
        self.media = base / "private"
        self.media.mkdir(parents=True, exist_ok=True)
        tag = os.getpid()
        self.redeliver = Worker("kills-redeliver", f"kills-redeliver-{tag}", worker_env(self.media), base / "redeliver.log")
        self.lost = Worker("kills-lost", f"kills-lost-{tag}", worker_env(self.media, TEST_KILLED_MESSAGE_LOST="1"),
                           base / "lost.log")
        self.workers = (self.redeliver, self.lost)

    def cpu_seconds(self) -> float:
        """CPU used so far by this test process and the workers (killed task processes included once reaped)."""
        own = os.times()
        total = own.user + own.system
        for worker in self.workers:
            parent = psutil.Process(worker.process.pid)
            times = parent.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in parent.children():
                with contextlib.suppress(psutil.Error):
                    times = child.cpu_times()
                    total += times.user + times.system
        return total

    def logs(self) -> str:
        return "\n".join(w.log.read_text(errors="replace")[-4000:] for w in self.workers)

    def clear_media(self) -> None:
        for child in self.media.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture(scope="session")
def kill_pool(django_db_setup, tmp_path_factory):
    pool = KillPool(tmp_path_factory.mktemp("kill-pool"))
    yield pool
    pool.stop()


@contextlib.contextmanager
def project_app_on(broker: str):
    """The project's Celery app sends to ``broker`` (not in-process) while inside; yields the app."""
    from kombu import pools

    from config.celery import app

    conf = app.conf
    saved = conf.task_always_eager, conf.broker_url, conf.task_default_queue, app._pool
    # Fresh connection and producer pools: kombu keeps producer pools in a global registry, and
    # one closed by an earlier test would refuse to hand out producers ("Acquire on closed pool").
    pools.reset()
    conf.task_always_eager, conf.broker_url, app._pool = False, broker, None
    app.amqp._producer_pool = None
    try:
        yield app
    finally:
        pools.reset()
        conf.task_always_eager, conf.broker_url, conf.task_default_queue, app._pool = saved
        app.amqp._producer_pool = None


@pytest.fixture
def kill_broker(kill_pool, settings):
    """This test's jobs go to the pool through Redis, and its files are the pool's; ``route(worker)`` picks the worker."""
    kill_pool.clear_media()
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(kill_pool.media)},
    }}
    with project_app_on(BROKER) as app:
        redis = app.connection_for_write().default_channel.client
        for worker in kill_pool.workers:
            redis.delete(worker.queue)

        def route(worker: Worker) -> None:
            app.conf.task_default_queue = worker.queue

        route(kill_pool.redeliver)
        kill_pool.route = route
        kill_pool.redis = redis
        yield kill_pool


# --- Jobs seen from outside: raw SQL, no ORM caching, no lock taken ---------------------


def job_state(job_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT state FROM enrollment_job WHERE id = %s", [job_id])
        return cursor.fetchone()[0]


def job_lock_holder(job_id: int) -> int | None:
    """The PostgreSQL backend holding the job's advisory lock (its worker's connection), read from pg_locks."""
    from enrollment.services.jobs import JOB_LOCK_SPACE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s AND objid = %s AND objsubid = 2",
            [JOB_LOCK_SPACE, job_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def unfinished_jobs() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, state FROM enrollment_job WHERE state IN ('pending', 'running') ORDER BY id")
        return cursor.fetchall()


def sweep_when_due() -> object:
    """The beat's sweep as it runs once the dead worker's heartbeat is past its limit."""
    from enrollment.services.jobs import HEARTBEAT_LIMIT, jobs_sweep

    return jobs_sweep(now=timezone.now() + HEARTBEAT_LIMIT + datetime.timedelta(seconds=1))


def recover(job_id: int, pool: KillPool, *, grace: float, timeout: float = 60) -> str:
    """Wait until the job is finished, running the job sweeper when nothing else will finish it.

    A job still "running" whose lock nobody has held for a while lost its run for good
    (its message dropped with the killed process, or the redelivered run came while the
    dead connection still held the lock): that is the sweeper's case. Returns how the
    job was finished: "clean" (the kill came after it), "redelivered" or "swept".
    """
    how = "clean" if job_state(job_id) == "succeeded" else "redelivered"
    deadline = time.monotonic() + timeout
    free_since = None
    while time.monotonic() < deadline:
        state = job_state(job_id)
        if state in ("succeeded", "failed"):
            return how
        if state == "running" and job_lock_holder(job_id) is None:
            free_since = free_since or time.monotonic()
            if time.monotonic() - free_since >= grace:
                summary = sweep_when_due()
                if job_id in summary.requeued:
                    how, free_since = "swept", None
        else:
            free_since = None
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {job_state(job_id)} after {timeout}s\n{pool.logs()}")


def final_files(root: Path, folder: str) -> set[str]:
    """Files under their final names in ``folder`` (staged ones live under staging/)."""
    base = root / folder
    return {str(p.relative_to(root)) for p in base.rglob("*") if p.is_file()} if base.exists() else set()


def staged_files(root: Path) -> set[str]:
    return final_files(root, "staging")


def kill_jobs(pool: KillPool, rng, *, start, check, kills: int, span: float, max_rounds: int) -> dict:
    """Start a job (``start(round)`` returns its id), SIGKILL its task process after a random delay, recover, check.

    Half the rounds run on the worker that drops a killed task's message (the sweeper
    recovers), half on the one that hands it back (redelivery; the sweeper if that run
    is lost too). After each recovery the beat's file sweep runs, then ``check()``.
    Returns the counts: rounds, kills that landed mid-run, and how each job finished.
    """
    from enrollment.services.outward import outward_files_sweep

    counts = {"rounds": 0, "landed": 0, "clean": 0, "redelivered": 0, "swept": 0}
    spent = dict.fromkeys(("start", "wait", "kill", "recover", "check"), 0.0)
    clock, began, cpu = time.monotonic(), time.monotonic(), pool.cpu_seconds()

    def lap(name):
        nonlocal clock
        now = time.monotonic()
        spent[name] += now - clock
        clock = now

    while counts["landed"] < kills:
        counts["rounds"] += 1
        assert counts["rounds"] <= max_rounds, (counts, pool.logs())
        worker = pool.lost if rng.random() < 0.5 else pool.redeliver
        pool.route(worker)
        job_id = start(counts["rounds"])
        lap("start")
        assert wait(lambda job_id=job_id: job_state(job_id) != "pending", 60), pool.logs()
        lap("wait")
        time.sleep(rng.uniform(0.0, span))
        worker.kill()
        lap("kill")
        counts["landed"] += job_state(job_id) == "running"
        counts[recover(job_id, pool, grace=0.0 if worker is pool.lost else 1.0)] += 1
        lap("recover")
        outward_files_sweep()
        assert unfinished_jobs() == []
        check()
        lap("check")
    print("seconds spent:", {k: round(v, 1) for k, v in spent.items()},
          f"wall {time.monotonic() - began:.1f} s, cpu {pool.cpu_seconds() - cpu:.1f} s (test process and workers)")
    return counts
