"""The nightly reminders to lagging schools are scheduled by the migrations: nobody has to run a command."""

import importlib

from django.apps import apps
from django_celery_beat.models import PeriodicTask

from config.celery import app

MIGRATION = "coordinators.migrations.0005_coverage_reminder_schedule"


def test_after_migrate_the_reminders_run_every_night_at_half_past_six_shanghai_time(db):
    # The test database was built by the migrations; a transactional test elsewhere may have emptied the
    # table since, so the migration's own function is run again (it must be idempotent anyway).
    migration = importlib.import_module(MIGRATION)
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(task="coordinators.reminders_send")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("6", "30", "Asia/Shanghai")


def test_the_scheduled_name_is_a_registered_task():
    app.loader.import_default_modules()
    assert importlib.import_module(MIGRATION).TASK_PATH in app.tasks


def test_a_schedule_already_set_up_by_hand_is_kept_not_doubled(db):
    from django_celery_beat.models import CrontabSchedule

    PeriodicTask.objects.filter(task="coordinators.reminders_send").delete()
    evening = CrontabSchedule.objects.create(minute="0", hour="20", timezone="Asia/Shanghai")
    PeriodicTask.objects.create(name="Lagging-school reminders (nightly)", task="coordinators.reminders_send", crontab=evening)
    importlib.import_module(MIGRATION).create_schedule(apps, None)
    assert list(PeriodicTask.objects.filter(task="coordinators.reminders_send").values_list("crontab__hour", flat=True)) == ["20"]
