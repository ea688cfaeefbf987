"""Background work on rosters: bringing fees in line with a published standard."""

import logging

from celery import shared_task

from enrollment.models import InsuranceYear
from enrollment.services.common import Actor
from enrollment.services.fees import fees_recompute

logger = logging.getLogger(__name__)


@shared_task(name="enrollment.recompute_fees", acks_late=True)
def recompute_fees_task(insurance_year_id: int) -> dict:
    """Apply the year's current fee standard to every roster.

    Safe to run twice: ``fees_recompute`` locks every roster of the year and
    only writes differences, so a second run (or a retry) changes nothing.
    """
    year = InsuranceYear.objects.filter(pk=insurance_year_id).first()
    if year is None:
        return {"skipped": "missing"}
    # Publishing is allowed after the window: the recompute runs whatever the date.
    return fees_recompute(actor=Actor.job("recompute_fees"), insurance_year=year)
