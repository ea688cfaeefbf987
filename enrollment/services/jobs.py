"""The one lifecycle of every background job: create, send, claim, progress (a heartbeat), succeed, fail.

The Job row is the source of truth and the broker message only a wake-up
(transactional outbox): ``job_create`` commits the row and sends the message
after commit; a message lost with the broker (Redis down or restarted empty)
is sent again by ``jobs_sweep``, and a job whose worker died is found by its
stale heartbeat and its released session lock, then re-queued when its task
is safe to run twice or failed with a message saying what to do.

While it runs, a job holds a PostgreSQL session-level advisory lock on its id.
The server drops it the moment the worker's connection goes (a killed process,
a cut connection), which tells a dead worker from a slow one without guessing
from clocks.
"""

import datetime
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import Job
from enrollment.services.outward import outward_register

logger = logging.getLogger(__name__)
outward_register(Job, "output_file")

# Key space of the advisory lock a running job holds: pg_advisory_lock(JOB_LOCK_SPACE, job id).
JOB_LOCK_SPACE = 720902
# A running job whose heartbeat is older than this and whose lock is free lost its worker.
HEARTBEAT_LIMIT = datetime.timedelta(minutes=3)
# A running job silent for this long is failed even if its connection still lives (a hung worker).
HUNG_LIMIT = datetime.timedelta(minutes=30)
# A pending job not picked up this long after its message was sent lost the message.
PENDING_LIMIT = datetime.timedelta(minutes=5)
# A job whose worker died is re-queued at most this many times, then failed.
MAX_ATTEMPTS = 3


class JobFailed(Exception):
    """Raised by a job's body to end it as failed with a message for the user (and optionally a result)."""

    def __init__(self, message: str, *, result: dict | None = None):
        super().__init__(message)
        self.message = message
        self.result = result or {}


class JobLost(Exception):
    """The job is no longer this worker's (the sweeper re-queued or failed it): stop without writing."""


@dataclass
class JobOutcome:
    """What a body may return instead of a bare result: counters and the output file to keep."""

    result: dict = field(default_factory=dict)
    progress: int | None = None
    total: int | None = None
    extra: dict = field(default_factory=dict)


def worker_id(hostname: str | None = None) -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}"[:200]


# --- Create and send (the outbox) ------------------------------------------------------


def job_create(*, kind: str, task, created_by=None, school=None, insurance_year=None, params: dict | None = None,
               **fields) -> Job:
    """Save a pending Job and send its task after the surrounding transaction commits.

    ``task`` is the Celery task (or its registered name) that runs the job; it takes
    the job's id only. If the broker is down the row stays pending with no
    ``enqueued_at``, the user sees "queued", and the sweeper sends it later.
    """
    user = created_by if getattr(created_by, "is_authenticated", False) else None
    job = Job(
        kind=kind, task_name=getattr(task, "name", task), created_by=user, school=school, insurance_year=insurance_year,
        params=params or {}, **fields,
    )
    job.save()
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    return job


def job_enqueue(*, job_id: int) -> bool:
    """Send the wake-up message of a pending job; False (logged, nothing raised) when the broker is unreachable."""
    from kombu.exceptions import OperationalError as BrokerError

    from config.celery import (
        app as current_app,  # the project's app, whatever app another caller made current
    )

    job = Job.objects.filter(pk=job_id, state=Job.State.PENDING).only("pk", "task_name").first()
    if job is None or not job.task_name:
        return False
    Job.objects.filter(pk=job_id, state=Job.State.PENDING).update(enqueued_at=timezone.now())
    task = current_app.tasks.get(job.task_name)
    if current_app.conf.task_always_eager and task is not None:
        # Runs here and now (tests, tasks set to run in-process), without reaching for a broker connection.
        task.apply(args=[job_id])
        return True
    try:
        # Few and short retries: a user waits on this in a request; the sweeper retries later.
        options = {"retry": True, "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}}
        if task is not None:
            task.apply_async(args=[job_id], **options)
        else:
            current_app.send_task(job.task_name, args=[job_id], **options)
    except (BrokerError, OSError) as exc:
        # The row is committed; without a message it waits for the sweeper to send it again.
        Job.objects.filter(pk=job_id, state=Job.State.PENDING).update(enqueued_at=None)
        logger.warning("job %s queued, broker unreachable (%s); the sweeper will send it", job_id, type(exc).__name__)
        return False
    return True


# --- Claim, progress, succeed, fail ------------------------------------------------------


def _try_lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_SPACE, job_id])
        return cursor.fetchone()[0]


def _unlock(job_id: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_SPACE, job_id])
    except Exception:  # the connection may be gone; then the server has released the lock already
        logger.debug("could not release the lock of job %s", job_id)


def job_claim(*, job_id: int, worker: str, take_over: bool = False) -> Job | None:
    """Move a pending job to running for ``worker``; None when someone else has it or it is finished.

    The race: the same job can be delivered twice at once (a message redelivered
    after a worker restart or the visibility timeout, and the sweeper's re-send).
    Both deliveries try this conditional UPDATE; PostgreSQL serialises them on the
    row and re-checks ``state = 'pending'`` for the second after the first
    commits, so exactly one gets the job. The advisory lock taken first adds the
    other half: with ``take_over`` (tasks safe to run twice) a job still marked
    running whose lock is free lost its worker and is taken over at once.
    """
    if not _try_lock(job_id):
        return None  # a live worker holds it
    states = [Job.State.PENDING, Job.State.RUNNING] if take_over else [Job.State.PENDING]
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state__in=states).update(
        state=Job.State.RUNNING, worker=worker, started_at=now, heartbeat_at=now, finished_at=None,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        _unlock(job_id)
        return None
    return Job.objects.select_related("created_by", "school", "insurance_year").get(pk=job_id)


def _mine(job: Job):
    return Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, worker=job.worker)


def job_progress(*, job: Job | None, progress: int, total: int | None = None) -> None:
    """Record progress; every call is also a heartbeat. Raises JobLost when the job was taken away."""
    if job is None or not job.worker:
        return
    values = {"progress": progress, "heartbeat_at": timezone.now()}
    if total is not None:
        values["total"] = total
    if not _mine(job).update(**values):
        raise JobLost(job.pk)
    job.progress = progress
    if total is not None:
        job.total = total


def job_heartbeat(*, job: Job | None) -> None:
    if job is not None and job.worker and not _mine(job).update(heartbeat_at=timezone.now()):
        raise JobLost(job.pk)


def job_succeed(*, job: Job, result: dict | None = None, **fields) -> bool:
    """End a running job as done; ``fields`` may set the output file, counters or expiry."""
    done = _mine(job).update(
        state=Job.State.SUCCEEDED, result=result if result is not None else job.result, error="", finished_at=timezone.now(),
        heartbeat_at=timezone.now(), **fields,
    )
    _unlock(job.pk)
    return bool(done)


def job_succeed_with_file(*, job: Job, file_name: str, content, result: dict | None = None, **fields) -> bool:
    """End a job with its output file: the file is moved into place only once the job's row commits."""
    from enrollment.services.outward import outward_file_place

    with transaction.atomic():
        name = outward_file_place(instance=job, field_name="output_file", file_name=file_name, content=content)
        return job_succeed(job=job, result=result, output_file=name, **fields)


def job_fail(*, job: Job, message: str, result: dict | None = None, **fields) -> bool:
    """End a running job as failed with a message the user can act on."""
    done = _mine(job).update(
        state=Job.State.FAILED, error=message[:4000], result=result if result is not None else job.result,
        finished_at=timezone.now(), **fields,
    )
    _unlock(job.pk)
    return bool(done)


def job_release(*, job: Job, message: str) -> bool:
    """Give a running job back to the queue (a retry after a lost database connection)."""
    done = _mine(job).update(state=Job.State.PENDING, worker="", heartbeat_at=None, error=message[:4000])
    _unlock(job.pk)
    return bool(done)


def system_error_message(kind_label: str) -> str:
    return _("%(kind)s未完成：处理时发生系统错误，已记录在系统日志中。请稍后重新发起；如仍失败，请联系系统管理员。") % {
        "kind": kind_label
    }


def job_execute(*, job_id: int, body: Callable[[Job], dict | JobOutcome | None], worker: str | None = None,
                take_over: bool = False, reraise: tuple[type[BaseException], ...] = ()) -> Job | None:
    """Claim the job, run ``body(job)``, end it as succeeded or failed; None if the job was not claimed.

    ``body`` raises JobFailed for a failure it explains itself. Any other error
    fails the job with a general message (details in the log) and is re-raised
    only when it is one of ``reraise`` (the Celery task retries those).
    """
    job = job_claim(job_id=job_id, worker=worker or worker_id(), take_over=take_over)
    if job is None:
        logger.info("job %s not claimed: taken, finished or gone", job_id)
        return None
    try:
        outcome = body(job)
    except JobLost:
        logger.warning("job %s was taken from this worker; stopping", job_id)
        _unlock(job_id)
        return None
    except JobFailed as exc:
        job_fail(job=job, message=exc.message, result=exc.result)
    except reraise:
        raise
    except Exception:
        logger.exception("job %s (%s) failed", job_id, job.kind)
        job_fail(job=job, message=system_error_message(job.get_kind_display()))
    else:
        if not isinstance(outcome, JobOutcome):
            outcome = JobOutcome(result=outcome or {})
        fields = dict(outcome.extra)
        if outcome.progress is not None:
            fields["progress"] = outcome.progress
        if outcome.total is not None:
            fields["total"] = outcome.total
        job_succeed(job=job, result=outcome.result, **fields)
    return Job.objects.get(pk=job_id)


# --- The sweeper -----------------------------------------------------------------------


@dataclass
class SweepSummary:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)


def _retry_safe(task_name: str) -> bool:
    from config.celery import app as current_app

    task = current_app.tasks.get(task_name)
    return bool(getattr(task, "idempotent", False))


def jobs_sweep(*, heartbeat_limit: datetime.timedelta = HEARTBEAT_LIMIT, hung_limit: datetime.timedelta = HUNG_LIMIT,
               pending_limit: datetime.timedelta = PENDING_LIMIT, now: datetime.datetime | None = None) -> SweepSummary:
    """Recover jobs whose worker died and send jobs whose message was lost.

    A running job is dead when its heartbeat is older than ``heartbeat_limit`` and
    its advisory lock is free (the worker's connection is gone), or when it has
    been silent longer than ``hung_limit``. It is re-queued when its task is safe to
    run twice and it has attempts left, otherwise failed with what to do.
    A pending job is sent again when it never got a message (broker down) or its
    message is older than ``pending_limit`` without a worker taking it.
    """
    now = now or timezone.now()
    summary = SweepSummary()
    stale = Job.objects.filter(state=Job.State.RUNNING).filter(
        Q(heartbeat_at__lt=now - heartbeat_limit) | Q(heartbeat_at__isnull=True)
    ).values_list("pk", "heartbeat_at", "task_name", "attempts")
    for job_id, heartbeat, task_name, attempts in stale:
        hung = heartbeat is None or heartbeat < now - hung_limit
        if not _try_lock(job_id):
            if not hung:
                continue  # slow, but its worker is alive
        else:
            _unlock(job_id)
        when = timezone.localtime(heartbeat).strftime("%Y-%m-%d %H:%M") if heartbeat else "-"
        if _retry_safe(task_name) and attempts < MAX_ATTEMPTS:
            note = _("上次运行的处理进程已中断（最后心跳 %(when)s），任务已自动重新排队（第%(n)d次重试），无需重复发起。") % {
                "when": when, "n": attempts,
            }
            if Job.objects.filter(pk=job_id, state=Job.State.RUNNING, heartbeat_at=heartbeat).update(
                state=Job.State.PENDING, worker="", heartbeat_at=None, enqueued_at=None, error=note
            ):
                summary.requeued.append(job_id)
        else:
            note = _("处理进程已中断（最后心跳 %(when)s），任务未完成，已停止。已完成的部分已保存；请重新发起该任务，系统会接着完成剩余部分。") % {
                "when": when
            }
            if Job.objects.filter(pk=job_id, state=Job.State.RUNNING, heartbeat_at=heartbeat).update(
                state=Job.State.FAILED, error=note, finished_at=now
            ):
                summary.failed.append(job_id)
    lost = Job.objects.filter(state=Job.State.PENDING).exclude(task_name="").filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - pending_limit)
    ).values_list("pk", flat=True)
    for job_id in list(lost) + summary.requeued:
        if job_id not in summary.resent and job_enqueue(job_id=job_id):
            summary.resent.append(job_id)
    if summary.requeued or summary.failed or summary.resent:
        logger.warning("job sweep: requeued=%s failed=%s resent=%s", summary.requeued, summary.failed, summary.resent)
    return summary
