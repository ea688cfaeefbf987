"""Background work of the student register."""

from enrollment.tasks.base import job_task


@job_task(name="enrollment.tasks.students.import_students")
def import_students(job):
    """Run a student import Job; takes only the Job's id and is safe to deliver twice (the claim)."""
    from enrollment.services.students import student_import_body

    return student_import_body(job)
