"""Background work of the student register."""

from celery import shared_task


@shared_task(acks_late=True)
def import_students(job_id: int) -> None:
    """Run a student import Job; takes only the Job's id and is safe to deliver twice."""
    from enrollment.services.students import student_import_run

    student_import_run(job_id=job_id)
