"""Celery tasks of the graduates app. The nightly schedule is a django-celery-beat row (migration 0002)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from graduates.services import deregistration_run


@shared_task(name="graduates.tasks.nightly_deregistration", acks_late=True)
def nightly_deregistration() -> int:
    """Read the inbox and process pending feeds. Safe to run twice: feeds are claimed, each applied once."""
    return deregistration_run(triggered_by="nightly").pk


@shared_task(name="graduates.tasks.deregistration_on_demand", acks_late=True)
def deregistration_on_demand(user_id: int) -> int:
    user = get_user_model().objects.filter(pk=user_id).first()
    label = f"admin:{user.get_username()}" if user else "admin"
    return deregistration_run(triggered_by=label).pk
