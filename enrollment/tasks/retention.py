"""The retention job (PIPL): pseudonymise students whose data is no longer needed."""

from celery import shared_task

from enrollment.retention import apply_retention


@shared_task(name="enrollment.apply_retention", acks_late=True)
def apply_retention_task() -> int:
    """Takes no personal data; safe to run twice and on several workers at once.

    Each batch locks its students with SKIP LOCKED and leaves out those already
    pseudonymised, so a repeated or concurrent run finds nothing left to do.
    """
    return apply_retention()
