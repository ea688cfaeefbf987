"""Celery tasks of the graduates app. The nightly schedule is a django-celery-beat row (migration 0002).

The run itself is a Job (kind GRADUATE_RUN) like every background job: started
by the schedule or by staff, sent after commit, recovered by the job sweeper.
"""

from celery import shared_task

from enrollment.models import Job
from enrollment.services.jobs import JobOutcome, job_create
from enrollment.tasks.base import job_task
from graduates.services import deregistration_run


@job_task(name="graduates.tasks.deregistration_job", idempotent=True)
def deregistration_job(job: Job):
    """Read the inbox and process pending feeds. Safe to run twice: feeds are claimed, each applied once."""
    run = deregistration_run(triggered_by=job.params.get("triggered_by", "nightly"))
    return JobOutcome(
        result={"run_id": run.pk, "feeds": run.feeds_processed, "records": run.record_count, "matched": run.matched,
                "stopped": run.stopped, "exceptions": run.exceptions},
        progress=run.feeds_processed, total=run.feeds_processed,
    )


def deregistration_start(*, triggered_by: str, user=None) -> Job:
    """Queue a deregistration run (the message goes after commit; with the broker down the sweeper sends it)."""
    return job_create(
        kind=Job.Kind.GRADUATE_RUN, task=deregistration_job, created_by=user, params={"triggered_by": triggered_by[:100]}
    )


@shared_task(name="graduates.tasks.nightly_deregistration")
def nightly_deregistration() -> int | None:
    """The schedule's entry: queue tonight's run. Returns the run's id when it ran at once (no broker: eager)."""
    job = deregistration_start(triggered_by="nightly")
    job.refresh_from_db()
    return job.result.get("run_id")


@shared_task(name="graduates.tasks.deregistration_on_demand")
def deregistration_on_demand(user_id: int) -> int | None:
    """Kept for messages queued before runs became Jobs: queue the run as a Job."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    job = deregistration_start(triggered_by=f"admin:{user.get_username()}" if user else "admin", user=user)
    job.refresh_from_db()
    return job.result.get("run_id")
