"""Nightly reminders to lagging schools (R15); scheduled by migration coordinators 0005 (06:30 Asia/Shanghai)."""

from celery import shared_task


@shared_task(name="coordinators.reminders_send", acks_late=True)
def reminders_send_task() -> int:
    from coordinators.services.reminders import reminders_send

    return reminders_send()
