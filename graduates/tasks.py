"""Celery tasks of the graduates app. The nightly schedule is a django-celery-beat row (migration 0002).

The run itself is a Job (kind GRADUATE_RUN) like every background job: started
by the schedule or by staff, sent after commit, recovered by the job sweeper.
"""

from celery import shared_task
from django.core.exceptions import PermissionDenied

from enrollment.models import City, Job
from enrollment.querysets import membership_city_id, membership_of
from enrollment.services.jobs import JobOutcome, job_create
from enrollment.tasks.base import job_task
from graduates.services import EVERY_CITY, deregistration_runs_per_city


@job_task(name="graduates.tasks.deregistration_job", idempotent=True)
def deregistration_job(job: Job):
    """Read the inbox and process pending feeds, one run per city (or the job's city only).

    Safe to run twice: feeds are claimed, each applied once.
    """
    city = EVERY_CITY
    if job.params.get("city_id"):
        city = City.objects.get(pk=job.params["city_id"])
    runs = deregistration_runs_per_city(triggered_by=job.params.get("triggered_by", "nightly"), city=city)
    feeds = sum(run.feeds_processed for run in runs)
    return JobOutcome(
        result={
            "run_id": runs[-1].pk if runs else None, "feeds": feeds,
            "records": sum(run.record_count for run in runs), "matched": sum(run.matched for run in runs),
            "stopped": sum(run.stopped for run in runs), "exceptions": sum(run.exceptions for run in runs),
        },
        progress=feeds, total=feeds,
    )


def deregistration_start(*, triggered_by: str, user=None) -> Job:
    """Queue a deregistration run (the message goes after commit; with the broker down the sweeper sends it).

    Staff start the run of their own city's feeds; the schedule and superusers every city's, one run each.
    """
    params = {"triggered_by": triggered_by[:100]}
    if user is not None and not user.is_superuser:
        city_id = membership_city_id(membership_of(user))
        if city_id is None:
            raise PermissionDenied
        params["city_id"] = city_id
    return job_create(kind=Job.Kind.GRADUATE_RUN, task=deregistration_job, created_by=user, params=params)


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
