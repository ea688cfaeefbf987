from django.core.management.base import BaseCommand

from graduates.services import deregistration_run


class Command(BaseCommand):
    help = "Read the graduate feed inbox and deregister graduates from the next insurance year (what the nightly job does)."

    def add_arguments(self, parser):
        parser.add_argument("--no-inbox", action="store_true", help="Process stored pending feeds only; leave the inbox alone.")

    def handle(self, *args, no_inbox=False, **options):
        run = deregistration_run(triggered_by="shell", collect_inbox=not no_inbox)
        self.stdout.write(
            f"run {run.pk}: {run.feeds_processed} feeds, {run.record_count} records, {run.matched} matched, "
            f"{run.stopped} stopped, {run.exceptions} exceptions, {run.duration_seconds:.2f}s"
        )
