"""The job sweeper runs every two minutes: a row in django-celery-beat's schedule, like the other nightly jobs."""

from django.db import migrations

TASK_NAME = "后台任务巡检（每2分钟）"
TASK_PATH = "enrollment.sweep_jobs"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _created = IntervalSchedule.objects.get_or_create(every=2, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK_PATH, "interval": interval, "enabled": True,
            "description": "处理进程中断的任务重新排队或标记失败；消息丢失的排队任务重新发送；清理未提交的文件",
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK_PATH).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0008_year_lock_scope_banks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
