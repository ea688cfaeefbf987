"""The project's Celery app for tests that kill real workers: file writing slowed in the worker process only.

Started as ``celery -A tests.billing.slow_worker worker``. Production code has no
delay of its own; the worker's child wraps the batch-line reader after it forks,
so a test can kill it while a file is being written.
"""

import os
import time

from celery.signals import worker_process_init

from config.celery import app  # noqa: F401 - the app Celery's -A finds here

LINE_DELAY = float(os.environ.get("TEST_LINE_DELAY_SECONDS", "0.02"))


@worker_process_init.connect
def slow_down_file_writing(**kwargs):
    from billing import services

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
