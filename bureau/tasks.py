"""The bureau's background work: the year-end report (R15) and the retention job (PIPL).

The task names keep their ``enrollment.`` prefix from before these jobs moved
here: beat schedules saved in the database and messages already queued name
them, and a renamed task would leave both pointing at nothing.
"""

from celery import shared_task

from enrollment.tasks.base import job_task


@job_task(name="enrollment.year_end_report", idempotent=True)
def year_end_report_task(job):
    """Only reads and writes its own file: safe to run twice."""
    from bureau.reports import year_end_report_body

    return year_end_report_body(job)


@shared_task(name="enrollment.apply_retention", acks_late=True)
def apply_retention_task() -> int:
    """Takes no personal data; safe to run twice and on several workers at once.

    Each batch locks its students with SKIP LOCKED and leaves out those already
    pseudonymised, so a repeated or concurrent run finds nothing left to do.
    """
    from bureau.retention import apply_retention

    return apply_retention()
