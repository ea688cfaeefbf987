"""The project's Celery app for tests that kill real workers: file writing slowed in the worker process only.

Started as ``celery -A tests.billing.slow_worker worker``. Production code has no
delay of its own; the worker's child wraps the readers that feed the files (batch
lines, declaration rows, refund lines, document pages) and the move of a staged
file into place after commit, so a test can kill it while a file is being
written, and between a commit and the move.

``TEST_KILLED_MESSAGE_LOST=1`` makes the job tasks of this worker drop their
message when their process is killed (no ``reject_on_worker_lost``), as when a
whole worker dies and nobody hands the message back: only the job sweeper can
then finish the job. Without it the worker behaves as in production (the message
comes back, the job is taken over).

``tests.refunds_export`` exports the open refunds of every school, as the admin
action does; it marks its start and end in Redis so a test can kill it mid-run.
"""

import os
import time

from celery.signals import worker_process_init, worker_ready

from config.celery import app

LINE_DELAY = float(os.environ.get("TEST_LINE_DELAY_SECONDS", "0.02"))
PUBLISH_DELAY = float(os.environ.get("TEST_PUBLISH_DELAY_SECONDS", "0"))
JOB_TASKS = ("billing.tasks.generate_debit_batches", "billing.tasks.generate_declarations",
             "coordinators.render_rights_records")


@worker_ready.connect
def lose_messages_of_killed_tasks(**kwargs):
    # The parent decides what happens to a killed child's message: with this off, it is acknowledged (lost).
    if os.environ.get("TEST_KILLED_MESSAGE_LOST") == "1":
        for name in JOB_TASKS:
            app.tasks[name].reject_on_worker_lost = False
    # The CJK fonts read once in the parent: every task process forked after a kill has them already.
    from coordinators.documents import fonts

    fonts()


@worker_process_init.connect
def slow_down_file_writing(**kwargs):
    from billing import services
    from coordinators.tasks import documents
    from enrollment.services import outward

    original = services._batch_lines

    def slow_lines(batch_id):
        for line in original(batch_id):
            time.sleep(LINE_DELAY)
            yield line

    services._batch_lines = slow_lines

    rows = services._declaration_rows

    def slow_rows(declaration):
        for row in rows(declaration):
            time.sleep(LINE_DELAY)
            yield row

    services._declaration_rows = slow_rows

    refund_content = services._refund_file_content

    def slow_refund_content(*, export, refunds):
        time.sleep(LINE_DELAY * len(refunds))
        return refund_content(export=export, refunds=refunds)

    services._refund_file_content = slow_refund_content

    render = documents.render_rights_records

    def slow_render(records, out, *, on_page=None, **options):
        def page_done(page):
            time.sleep(LINE_DELAY)
            if on_page is not None:
                on_page(page)

        return render(records, out, on_page=page_done, **options)

    documents.render_rights_records = slow_render

    if PUBLISH_DELAY:
        publish = outward._publish

        def slow_publish(staged, final):
            time.sleep(PUBLISH_DELAY)  # committed, not yet in place: the window a kill must not turn into a lost file
            return publish(staged, final)

        outward._publish = slow_publish


@app.task(name="tests.refunds_export")
def refunds_export(token: str):
    import redis
    from django.conf import settings

    from billing import services
    from billing.models import Refund
    from enrollment.models import School
    from enrollment.services.common import Actor

    signals = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    signals.set(f"refunds-export:{token}", "started")
    for school in School.objects.filter(pk__in=Refund.objects.filter(state=Refund.State.OPEN).values("school_id")):
        services.refunds_export(school=school, actor=Actor.job("refund-export"))
    signals.set(f"refunds-export:{token}", "done")
