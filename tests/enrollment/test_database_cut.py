"""A real worker's database connection cut in the middle of a job (pg_terminate_backend): retried, never left running.

The server ends the worker's session mid-run, as a database restart or a network
cut would. The task hands the job back ("will retry by itself"), retries after its
backoff and finishes the run; the batches are then exactly what one clean run
gives.
"""

import time

import pytest
from django.db import connection

from billing.services import debit_batches_start
from enrollment.models import Job
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.billing.test_worker_kill import batch_files_agree_with_rows
from tests.factories import SchoolFactory
from tests.worker_pool import job_lock_holder, job_state, wait

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_job_whose_database_connection_is_cut_mid_run_is_retried_and_finished(world, kill_broker):
    pool = kill_broker
    banks = [make_bank(world.city, code=f"C{i}", file_format="icbc_fixed" if i % 2 else "default") for i in range(3)]
    for n in range(12):
        school = SchoolFactory(code=f"DC{n:03d}", office=world.office)
        make_account(school, banks[n % 3])
        confirm_roster(school, world.year, world.coordinator, paying=3)

    job = debit_batches_start(insurance_year=world.year, user=world.city_staff)
    assert wait(lambda: job_lock_holder(job.pk) is not None, 60), pool.logs()
    time.sleep(0.3)  # into the first bank's batch
    holder = job_lock_holder(job.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [holder])
        assert cursor.fetchone()[0]

    # Handed back for its retry, with the reason on the job page: not "running" with nobody behind it.
    assert wait(lambda: job_state(job.pk) == Job.State.PENDING, 30), (job_state(job.pk), pool.logs())
    assert "数据库连接中断，任务将自动重试" in Job.objects.get(pk=job.pk).error
    # The retry comes after its backoff (5 seconds for the first) and finishes the run.
    assert wait(lambda: job_state(job.pk) == Job.State.SUCCEEDED, 60, interval=0.1), pool.logs()
    done = Job.objects.get(pk=job.pk)
    assert done.attempts == 2 and done.error == ""
    batch_files_agree_with_rows(pool.media)
