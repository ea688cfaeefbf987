"""Background import of an exemption list uploaded by bureau staff."""

from enrollment.models import Job
from enrollment.services.common import Actor
from enrollment.services.exemptions import exemptions_import
from enrollment.services.jobs import JobFailed, JobOutcome
from enrollment.tasks.base import job_task


@job_task(name="enrollment.import_exemptions")
def exemptions_import_task(job: Job):
    # Not idempotent for the lifecycle: the claim lets one delivery import the list;
    # a job whose worker died is failed by the sweeper and the list uploaded again.
    actor = Actor(user=job.created_by, source=job.params.get("source_entry", "admin"))
    with job.input_file.open("rb") as handle:
        result = exemptions_import(
            actor=actor, source=job.params.get("source", ""), rows=handle, file_name=job.input_name or job.input_file.name,
            city_id=job.params.get("city_id"),
        )
    if not result.ok:
        raise JobFailed("\n".join(str(e) for e in result.errors[:200]), result=result.as_dict())
    return JobOutcome(result=result.as_dict(), progress=result.total, total=result.total)
