"""The monthly retention job is scheduled by the migrations: nobody has to run a command."""

import importlib

from django.apps import apps
from django.core.management import get_commands
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.celery import app

MIGRATION = "bureau.migrations.0001_retention_schedule"


def test_after_migrate_the_retention_job_runs_on_the_first_of_every_month_at_half_past_three_shanghai_time(db):
    # The test database was built by the migrations; a transactional test elsewhere may have emptied the
    # table since, so the migration's own function is run again (it must be idempotent anyway).
    migration = importlib.import_module(MIGRATION)
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(task="enrollment.apply_retention")
    assert task.enabled
    crontab = task.crontab
    assert (crontab.day_of_month, crontab.hour, crontab.minute, str(crontab.timezone)) == (
        "1",
        "3",
        "30",
        "Asia/Shanghai",
    )


def test_the_scheduled_name_is_a_registered_task():
    app.loader.import_default_modules()
    assert importlib.import_module(MIGRATION).TASK_PATH in app.tasks


def test_a_schedule_set_up_by_the_old_command_is_kept_not_doubled(db):
    PeriodicTask.objects.filter(task="enrollment.apply_retention").delete()
    second = CrontabSchedule.objects.create(minute="0", hour="4", day_of_month="2", timezone="Asia/Shanghai")
    PeriodicTask.objects.create(name="personal-data retention", task="enrollment.apply_retention", crontab=second)
    importlib.import_module(MIGRATION).create_schedule(apps, None)
    days = PeriodicTask.objects.filter(task="enrollment.apply_retention").values_list("crontab__day_of_month", flat=True)
    assert list(days) == ["2"]


def test_there_is_no_schedule_command_left_to_forget():
    assert "setup_retention_schedule" not in get_commands()
