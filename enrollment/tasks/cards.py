"""Citizen-card tasks: the bureau's photo package."""

from celery import shared_task


@shared_task(name="enrollment.cards_export_package", acks_late=True)
def cards_export_package_task(job_id: int) -> int:
    from enrollment.services.cards import cards_export_package

    return cards_export_package(job_id=job_id).pk
