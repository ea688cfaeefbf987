"""Two generation runs at the same moment (two workers, a double click) produce one batch per bank, never two debits."""

import threading

import pytest
from django.db import connection

from billing import services
from billing.models import DebitAttempt, DebitBatch, DebitInstruction
from enrollment.services.common import Actor
from tests.billing.conftest import extra_school


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_runs_bill_each_roster_once(debit_world, settings):
    for index in range(6):
        extra_school(debit_world, f"GZ-YX-1{index:02d}", debit_world.bank, paying=1)
    settings.BILLING_LINE_DELAY_SECONDS = 0.02  # keep the first run inside its transaction while the second starts
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.batches_generate(insurance_year=debit_world.year, actor=Actor(user=None, source="job", label="race"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert DebitBatch.objects.count() == 1
    batch = DebitBatch.objects.get()
    assert batch.line_count == DebitInstruction.objects.count() == 8
    assert DebitAttempt.objects.values("instruction").distinct().count() == DebitAttempt.objects.count() == 8
