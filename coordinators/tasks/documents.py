"""Rendering personal rights records in the background, and deleting files past their expiry (R17)."""

import logging
import tempfile

from celery import shared_task
from django.core.files import File
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.documents import render_rights_records
from coordinators.selectors_documents import rights_records
from coordinators.services.documents import KEEP_UNTIL_DOWNLOADED
from enrollment.models import Job
from enrollment.services.jobs import JobFailed, JobLost, job_progress, job_succeed_with_file
from enrollment.tasks.base import job_task

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 25


@job_task(name="coordinators.render_rights_records", idempotent=True)
def render_rights_records_job(job: Job):
    """Renders into a file of its own and changes nothing else: safe to run twice."""
    params = job.params or {}

    def on_page(page: int) -> None:
        if page % PROGRESS_EVERY == 0:
            job_progress(job=job, progress=page)

    try:
        records = rights_records(
            school=job.school, insurance_year=job.insurance_year,
            class_name=params.get("class_name"), student_id=params.get("student_id"),
        )
        with tempfile.TemporaryFile() as buffer:
            pages = render_rights_records(records, buffer, on_page=on_page)
            buffer.seek(0)
            # Staged; in place only once the job's row says succeeded.
            job_succeed_with_file(
                job=job, file_name=f"rights-records-{job.pk}.pdf", content=File(buffer), result={"pages": pages},
                progress=pages, total=pages, expires_at=timezone.now() + KEEP_UNTIL_DOWNLOADED,
            )
    except JobLost:
        raise
    except Exception as exc:
        # The page says "failed, print again"; the log has the trace. The message never
        # quotes the exception, whose text could carry a student's data.
        logger.exception("documents job %s failed", job.pk)
        raise JobFailed(_("权益记录单生成失败（%(kind)s），请重新打印；如仍失败，请联系经办机构。") % {"kind": type(exc).__name__}) from exc


@shared_task(name="coordinators.delete_expired_documents")
def delete_expired_documents() -> int:
    """Delete rendered files past their expiry (the job row stays as the record that printing happened).

    A rendering whose worker died is no longer this task's business: the job sweeper re-queues it.
    """
    now = timezone.now()
    deleted = 0
    for job in Job.objects.filter(kind=Job.Kind.DOCUMENTS, expires_at__lte=now).exclude(output_file=""):
        name = job.output_file.name
        # Clear the reference first (conditionally), so a concurrent cleanup does not delete twice
        # and a download racing this sees no file rather than a dangling name.
        if Job.objects.filter(pk=job.pk, output_file=name).update(output_file=""):
            job.output_file.storage.delete(name)
            deleted += 1
    return deleted
