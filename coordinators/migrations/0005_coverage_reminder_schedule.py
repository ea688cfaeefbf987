"""The nightly reminders to lagging schools are in django-celery-beat's schedule once migrated (06:30 Shanghai).

They used to need ``manage.py setup_reminder_schedule``, which a new installation could forget. The entry keeps
that command's name, so a database where the command already ran keeps its one row (and its time).
"""

from django.db import migrations

TASK_NAME = "Lagging-school reminders (nightly)"
TASK_PATH = "coordinators.reminders_send"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30", hour="6", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK_PATH, "crontab": crontab, "enabled": True,
            "description": "申报缴费期结束前30、14、7、1天提醒参保率偏低或未确认名单的学校（门户通知和邮件）",
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK_PATH).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coordinators", "0004_coverage_reminders_by_staff"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
