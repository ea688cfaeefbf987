"""Background import of an exemption list uploaded by bureau staff."""

import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from enrollment.models import Job
from enrollment.services.common import Actor
from enrollment.services.exemptions import exemptions_import

logger = logging.getLogger(__name__)


@shared_task(name="enrollment.import_exemptions", acks_late=True)
def exemptions_import_task(job_id: int) -> None:
    # Claim the job with a conditional UPDATE: a duplicate delivery finds it no longer pending and stops,
    # so one list is never imported twice at the same time.
    claimed = Job.objects.filter(Q(pk=job_id), Q(state=Job.State.PENDING)).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = Job.objects.select_related("created_by").get(pk=job_id)
    actor = Actor(user=job.created_by, source=job.params.get("source_entry", "admin"))
    try:
        with job.input_file.open("rb") as handle:
            result = exemptions_import(
                actor=actor, source=job.params.get("source", ""), rows=handle, file_name=job.input_name or job.input_file.name,
                city_id=job.params.get("city_id"),
            )
    except Exception as exc:
        logger.exception("exemption import failed", extra={"job_id": job_id})
        Job.objects.filter(pk=job_id).update(state=Job.State.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        raise
    Job.objects.filter(pk=job_id).update(
        state=Job.State.SUCCEEDED if result.ok else Job.State.FAILED,
        result=result.as_dict(),
        error="\n".join(str(e) for e in result.errors[:200]),
        progress=result.total,
        total=result.total,
        finished_at=timezone.now(),
    )
