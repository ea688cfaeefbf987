"""Nightly reminders to lagging schools (R15); scheduled by ``manage.py setup_reminder_schedule``."""

from celery import shared_task


@shared_task(name="coordinators.reminders_send", acks_late=True)
def reminders_send_task() -> int:
    from coordinators.services.reminders import reminders_send

    return reminders_send()
