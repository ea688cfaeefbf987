"""Billing jobs. Each takes a Job id, runs one service through the job lifecycle, and is safe to run twice.

Both generations are idempotent (they claim only open rows, commit per bank or
per declaration, and a rerun writes every missing file; proven by the
worker-kill tests in tests/billing), so they are declared ``idempotent``:
acknowledged late, redelivered after a killed worker, retried after a lost
database connection, re-queued by the sweeper (enrollment.services.jobs).
"""

from celery import shared_task
from django.utils import timezone

from billing import services
from enrollment.models import InsuranceYear, Job
from enrollment.services.common import Actor
from enrollment.services.jobs import JobFailed, JobOutcome
from enrollment.tasks.base import job_task


def _actor(job: Job, label: str) -> Actor:
    return Actor(user=job.created_by, source="job", label=label)


@job_task(name="billing.tasks.generate_debit_batches", idempotent=True)
def generate_debit_batches(job: Job):
    summary = services.batches_generate(insurance_year=job.insurance_year, actor=_actor(job, "debit-batches"), job=job)
    result = {"batches": summary.batches, "instructions_created": summary.instructions_created,
              "refunds": summary.refunds, "adjustments": summary.adjustments}
    if summary.errors:
        raise JobFailed("\n".join(summary.errors), result=result)
    return JobOutcome(result=result)


@job_task(name="billing.tasks.generate_declarations", idempotent=True)
def generate_declarations(job: Job):
    try:
        references = services.declarations_generate(insurance_year=job.insurance_year, actor=_actor(job, "declarations"), job=job)
    except services.BillingError as exc:
        raise JobFailed("\n".join(exc.messages)) from exc
    return {"declarations": references}


@shared_task(name="billing.tasks.nightly_billing")
def nightly_billing():
    """Nightly (django-celery-beat): start generation for every year from window opening to coverage end."""
    today = timezone.localdate()
    started = 0
    for year in InsuranceYear.objects.filter(window_start__lte=today, coverage_end__gte=today):
        services.billing_job_start(insurance_year=year, user=None)
        started += 1
    return started
