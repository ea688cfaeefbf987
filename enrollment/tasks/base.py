"""The Celery side of the job lifecycle: a task class whose only argument is a Job id.

``job_task`` declares one::

    @job_task(name="enrollment.import_exemptions")
    def exemptions_import_task(job): ...

The body receives the claimed Job and returns its result (or raises JobFailed).
``idempotent=True`` says a second run is harmless (the body claims its own work
or its writes are guarded by constraints). Only those tasks get:

- ``acks_late`` + ``reject_on_worker_lost``: the message is acknowledged when the
  task ends, so a killed worker's task comes back (after the broker's visibility
  timeout, CELERY_BROKER_TRANSPORT_OPTIONS, when the whole worker died);
- taking over a job still marked running whose worker's lock is gone;
- retries with backoff on a lost database connection, then failed, never left running;
- re-queueing by the sweeper when the worker died.
"""

import logging

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils.translation import gettext as _

from enrollment.services import jobs

logger = logging.getLogger(__name__)

DB_RETRIES = 5


class JobTask(Task):
    idempotent = False
    max_retries = DB_RETRIES

    def run_job(self, job_id: int, body):
        worker = jobs.worker_id(getattr(self.request, "hostname", None))
        retryable = (OperationalError, InterfaceError) if self.idempotent else ()
        try:
            return jobs.job_execute(job_id=job_id, body=body, worker=worker, take_over=self.idempotent, reraise=retryable)
        except retryable as exc:
            # The database went away mid-task. The connection is useless now: drop it.
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may itself fail
                pass
            close_old_connections()
            retries = self.request.retries or 0
            if retries < self.max_retries:
                self._end(job_id, retry=True)
                logger.warning("job %s lost its database connection; retry %d", job_id, retries + 1)
                raise self.retry(exc=exc, countdown=min(2 ** retries * 5, 300)) from exc
            self._end(job_id, retry=False)
            raise

    def _end(self, job_id: int, *, retry: bool) -> None:
        """Hand the job back for the retry, or fail it after the last one; best effort (the database may still be down)."""
        try:
            from enrollment.models import Job

            job = Job.objects.filter(pk=job_id).first()
            if job is None:
                return
            if retry:
                jobs.job_release(job=job, message=_("数据库连接中断，任务将自动重试。"))
            else:
                jobs.job_fail(job=job, message=_("数据库连接多次中断，任务未完成，已停止。已完成的部分已保存；请稍后重新发起。"))
        except (OperationalError, InterfaceError):
            # Still down: the job stays "running" without a live lock; the sweeper ends it.
            logger.warning("job %s: database still unreachable; left to the sweeper", job_id)


def job_task(*, name: str, idempotent: bool = False, **options):
    """Declare a Celery task that runs one Job through the lifecycle (see the module docstring)."""

    def decorate(body):
        def run(self, job_id: int):
            return getattr(self.run_job(job_id, body), "pk", None)

        run.__name__ = body.__name__
        run.__doc__ = body.__doc__
        run.__module__ = body.__module__
        return shared_task(
            name=name, bind=True, base=JobTask, idempotent=idempotent, acks_late=idempotent,
            reject_on_worker_lost=idempotent, **options,
        )(run)

    return decorate
