"""The job sweeper: a beat task every few minutes (django-celery-beat row, enrollment migration 0007)."""

from celery import shared_task

from enrollment.services.jobs import jobs_sweep
from enrollment.services.outward import outward_files_sweep


@shared_task(name="enrollment.sweep_jobs")
def sweep_jobs() -> dict:
    """Re-queue or fail jobs whose worker died, re-send jobs whose message was lost, clean staged files.

    Safe to run twice and on several workers at once: every change is a conditional
    UPDATE on the job's state and heartbeat, and a re-sent message is claimed once.
    """
    summary = jobs_sweep()
    files = outward_files_sweep()
    return {"requeued": summary.requeued, "failed": summary.failed, "resent": summary.resent,
            "files_removed": len(files["removed"]), "files_published": len(files["published"])}
