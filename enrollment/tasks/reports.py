"""Report tasks: the year-end coverage report for the education authority (R15)."""

from enrollment.tasks.base import job_task


@job_task(name="enrollment.year_end_report", idempotent=True)
def year_end_report_task(job):
    """Only reads and writes its own file: safe to run twice."""
    from enrollment.reports import year_end_report_body

    return year_end_report_body(job)
