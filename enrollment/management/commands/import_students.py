"""python manage.py import_students <school-code> <file> [--partial]"""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from enrollment.models import AuditEvent, Job, School
from enrollment.services.common import Actor
from enrollment.services.students import MODE_PARTIAL, MODE_STRICT, student_import_start


class Command(BaseCommand):
    help = "Import students of a school from an .xlsx, .xls or .csv file; exits non-zero and prints the report path on errors."

    def add_arguments(self, parser):
        parser.add_argument("school_code")
        parser.add_argument("path")
        parser.add_argument("--partial", action="store_true", help="import the valid rows even if some rows are wrong")

    def handle(self, *args, school_code, path, partial, **options):
        school = School.objects.filter(code=school_code).first()
        if school is None:
            raise CommandError(f"没有学校代码为 {school_code} 的学校。")
        if not os.path.isfile(path):
            raise CommandError(f"找不到文件 {path}。")
        actor = Actor(user=None, source=AuditEvent.Source.SHELL, label=f"manage.py import_students ({os.environ.get('USER', '')})")
        try:
            with open(path, "rb") as handle:
                job = student_import_start(
                    actor=actor, school=school, upload=handle, name=os.path.basename(path),
                    mode=MODE_PARTIAL if partial else MODE_STRICT, run_now=True,
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        result = job.result
        self.stdout.write(
            f"任务 {job.pk}: 共{result.get('total', 0)}行，新登记{result.get('created', 0)}，更新{result.get('updated', 0)}，"
            f"无变化{result.get('unchanged', 0)}，错误行{result.get('rejected_rows', 0)}"
        )
        report = job.output_file.path if job.output_file else ""
        if job.state != Job.State.SUCCEEDED or result.get("rejected_rows"):
            message = job.error or "部分行有错误。"
            if report:
                message += f" 错误报告：{report}"
            raise CommandError(message)
