"""The monthly personal-data retention job is in django-celery-beat's schedule once migrated (1st, 03:30 Shanghai).

It used to need ``manage.py setup_retention_schedule``, which a new installation could forget. The entry keeps
that command's name, so a database where the command already ran keeps its one row (and its time).
"""

from django.db import migrations

TASK_NAME = "personal-data retention"
TASK_PATH = "enrollment.apply_retention"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Monthly, early on the 1st: a student becomes due when the year after which their coverage ended is
    # RETENTION_YEARS old, so the run after each year closes does the work and the others find little or nothing.
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_month="1", month_of_year="*", day_of_week="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK_PATH, "crontab": crontab, "enabled": True,
            "description": "个人信息保存期满的学生去标识化（每月1日）",
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK_PATH).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
