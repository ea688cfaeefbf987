"""Billing jobs. Each takes ids, fetches inside and calls one service; each is safe to run twice.

``acks_late`` is on for batch generation only: the message is acknowledged
after the task finishes, so a worker killed mid-run gets the run redelivered.
That is safe because generation is idempotent (claims only open instructions,
one transaction per bank; proven by the worker-kill test in tests/billing).
"""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing import services
from enrollment.models import CollectionRoute, InsuranceYear, Job
from enrollment.services.common import Actor


def _actor(user_id, label):
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return Actor(user=user, source="job", label=label)


def _job(job_id):
    return Job.objects.filter(pk=job_id).first() if job_id else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def generate_debit_batches(insurance_year_id, user_id=None, job_id=None):
    year = InsuranceYear.objects.get(pk=insurance_year_id)
    summary = services.batches_generate(insurance_year=year, actor=_actor(user_id, "debit-batches"), job=_job(job_id))
    return {"batches": summary.batches, "errors": summary.errors}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def generate_declarations(insurance_year_id, user_id=None, job_id=None):
    year = InsuranceYear.objects.get(pk=insurance_year_id)
    return services.declarations_generate(insurance_year=year, actor=_actor(user_id, "declarations"), job=_job(job_id))


@shared_task
def nightly_billing():
    """Nightly (django-celery-beat): start generation for every year from window opening to coverage end."""
    today = timezone.localdate()
    for year in InsuranceYear.objects.filter(window_start__lte=today, coverage_end__gte=today):
        if year.collection_route == CollectionRoute.BANK_DEBIT:
            generate_debit_batches.delay(year.pk)
        else:
            generate_declarations.delay(year.pk)
