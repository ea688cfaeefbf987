"""Register (or update) the nightly lagging-school reminder in Celery beat's database schedule. Idempotent."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

TASK_NAME = "coordinators.reminders_send"
ENTRY_NAME = "Lagging-school reminders (nightly)"


class Command(BaseCommand):
    help = "Schedule the nightly reminders to lagging schools (06:30 Asia/Shanghai). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--hour", type=int, default=6)
        parser.add_argument("--minute", type=int, default=30)

    @transaction.atomic
    def handle(self, *args, hour, minute, **options):
        schedule, _created = CrontabSchedule.objects.get_or_create(
            minute=str(minute), hour=str(hour), day_of_week="*", day_of_month="*", month_of_year="*",
            timezone="Asia/Shanghai",
        )
        task, created = PeriodicTask.objects.update_or_create(
            name=ENTRY_NAME, defaults={"task": TASK_NAME, "crontab": schedule, "interval": None, "enabled": True},
        )
        self.stdout.write(f"{'created' if created else 'updated'}: {task.name} at {hour:02d}:{minute:02d}")
