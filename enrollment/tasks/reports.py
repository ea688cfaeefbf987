"""Report tasks: the year-end coverage report for the education authority (R15)."""

from celery import shared_task


@shared_task(name="enrollment.year_end_report", acks_late=True)
def year_end_report_task(job_id: int) -> int:
    from enrollment.reports import year_end_report_run

    return year_end_report_run(job_id=job_id).pk
