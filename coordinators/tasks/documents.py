"""Rendering personal rights records in the background, and deleting files past their expiry (R17)."""

import datetime
import logging
import tempfile

from celery import shared_task
from django.core.files import File
from django.utils import timezone

from coordinators.documents import render_rights_records
from coordinators.selectors_documents import rights_records
from coordinators.services.documents import KEEP_UNTIL_DOWNLOADED
from enrollment.models import Job

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 25
# A rendering still "running" after this long lost its worker (killed, restarted): show it as failed.
STALE_AFTER = datetime.timedelta(hours=2)


@shared_task(name="coordinators.render_rights_records", acks_late=True)
def render_rights_records_job(job_id: int) -> None:
    # Claim with a conditional UPDATE: of two deliveries of the same message (a retry, a
    # restarted worker) only one moves the job from pending to running; the other returns.
    claimed = Job.objects.filter(pk=job_id, kind=Job.Kind.DOCUMENTS, state=Job.State.PENDING).update(
        state=Job.State.RUNNING, started_at=timezone.now(), progress=0
    )
    if not claimed:
        logger.info("documents job %s already taken or gone", job_id)
        return
    job = Job.objects.select_related("school__office__city", "insurance_year").get(pk=job_id)
    params = job.params or {}

    def on_page(page: int) -> None:
        if page % PROGRESS_EVERY == 0:
            Job.objects.filter(pk=job_id).update(progress=page)

    try:
        records = rights_records(
            school=job.school, insurance_year=job.insurance_year,
            class_name=params.get("class_name"), student_id=params.get("student_id"),
        )
        with tempfile.TemporaryFile() as buffer:
            pages = render_rights_records(records, buffer, on_page=on_page)
            buffer.seek(0)
            job.output_file.save(f"rights-records-{job.pk}.pdf", File(buffer), save=False)
    except Exception as exc:
        # The page says "failed, print again"; the log has the trace. Only the exception's type is stored,
        # never its message, which could quote a student's data.
        logger.exception("documents job %s failed", job_id)
        Job.objects.filter(pk=job_id).update(
            state=Job.State.FAILED, error=f"{type(exc).__name__}", finished_at=timezone.now()
        )
        return
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        state=Job.State.SUCCEEDED, output_file=job.output_file.name, progress=pages, total=pages,
        result={"pages": pages}, finished_at=now, expires_at=now + KEEP_UNTIL_DOWNLOADED,
    )


@shared_task(name="coordinators.delete_expired_documents")
def delete_expired_documents() -> int:
    """Delete rendered files past their expiry (the job row stays as the record that printing happened),
    and mark renderings whose worker died as failed so the coordinator is told to print again."""
    now = timezone.now()
    Job.objects.filter(kind=Job.Kind.DOCUMENTS, state=Job.State.RUNNING, started_at__lt=now - STALE_AFTER).update(
        state=Job.State.FAILED, error="stale", finished_at=now
    )
    deleted = 0
    for job in Job.objects.filter(kind=Job.Kind.DOCUMENTS, expires_at__lte=now).exclude(output_file=""):
        name = job.output_file.name
        # Clear the reference first (conditionally), so a concurrent cleanup does not delete twice
        # and a download racing this sees no file rather than a dangling name.
        if Job.objects.filter(pk=job.pk, output_file=name).update(output_file=""):
            job.output_file.storage.delete(name)
            deleted += 1
    return deleted
