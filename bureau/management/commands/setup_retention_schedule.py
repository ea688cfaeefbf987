from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

TASK_NAME = "enrollment.apply_retention"
SCHEDULE_NAME = "personal-data retention"


class Command(BaseCommand):
    help = "Create or update the monthly beat entry of the retention job (idempotent: run on every deployment)."

    @transaction.atomic
    def handle(self, *args, **options):
        # Monthly, early on the 1st: a student becomes due when the year after
        # which their coverage ended is RETENTION_YEARS old, so the run after
        # each year closes does the work and the others find little or nothing.
        schedule, _created = CrontabSchedule.objects.get_or_create(
            minute="30", hour="3", day_of_month="1", month_of_year="*", day_of_week="*", timezone="Asia/Shanghai"
        )
        task, created = PeriodicTask.objects.update_or_create(
            name=SCHEDULE_NAME, defaults={"task": TASK_NAME, "crontab": schedule, "interval": None, "enabled": True}
        )
        self.stdout.write(f"{'Created' if created else 'Updated'} schedule '{task.name}': {schedule}.")
