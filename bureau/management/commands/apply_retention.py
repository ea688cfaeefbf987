import datetime

from django.core.management.base import BaseCommand

from bureau.retention import apply_retention
from enrollment.retention import eligible_students, retention_cutoff
from enrollment.services.common import Actor


class Command(BaseCommand):
    help = "Pseudonymise students who graduated or left and whose last coverage ended more than RETENTION_YEARS ago."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count the students that would be pseudonymised.")
        parser.add_argument("--today", type=datetime.date.fromisoformat, help="Reference date (YYYY-MM-DD), default today.")

    def handle(self, *args, dry_run=False, today=None, **options):
        cutoff = retention_cutoff(today=today)
        if dry_run:
            count = eligible_students(today=today).count()
            self.stdout.write(f"{count} students with coverage ended before {cutoff} would be pseudonymised.")
            return
        done = apply_retention(today=today, actor=Actor(user=None, source="shell", label="apply_retention"))
        self.stdout.write(f"{done} students with coverage ended before {cutoff} pseudonymised.")
