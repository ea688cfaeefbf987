"""The one job lifecycle: create (outbox), claim, progress as heartbeat, succeed, fail; the claim race; broker down."""

import datetime
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from config.celery import app as current_app
from enrollment.models import Job
from enrollment.services import jobs
from enrollment.tasks.base import JobTask

pytestmark = pytest.mark.django_db


def test_a_job_goes_from_pending_to_succeeded_with_its_progress_and_result(world):
    job = Job.objects.create(kind=Job.Kind.REPORT, created_by=world.city_staff)
    seen = []

    def body(claimed):
        seen.append((claimed.state, claimed.worker))
        jobs.job_progress(job=claimed, progress=3, total=4)
        return {"rows": 4}

    done = jobs.job_execute(job_id=job.pk, body=body, worker="host:1")
    assert seen == [(Job.State.RUNNING, "host:1")]
    assert (done.state, done.progress, done.total, done.result, done.attempts) == (Job.State.SUCCEEDED, 3, 4, {"rows": 4}, 1)
    assert done.started_at and done.finished_at and done.heartbeat_at
    # A second delivery of the same job does nothing.
    assert jobs.job_execute(job_id=job.pk, body=body, worker="host:2") is None and len(seen) == 1


def test_a_refusal_ends_the_job_failed_with_its_own_message(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)

    def body(claimed):
        raise jobs.JobFailed("名单为空，无法生成。", result={"rows": 0})

    done = jobs.job_execute(job_id=job.pk, body=body)
    assert (done.state, done.error, done.result) == (Job.State.FAILED, "名单为空，无法生成。", {"rows": 0})


def test_an_unexpected_error_ends_the_job_failed_with_a_clear_chinese_message_and_no_internals(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)

    def body(claimed):
        raise KeyError("identity_number 440103201001011234")

    done = jobs.job_execute(job_id=job.pk, body=body)
    assert done.state == Job.State.FAILED
    assert "报表未完成" in done.error and "重新发起" in done.error and "4401" not in done.error


def test_progress_of_a_job_taken_away_stops_the_old_worker(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)

    def body(claimed):
        Job.objects.filter(pk=claimed.pk).update(state=Job.State.PENDING, worker="")  # the sweeper re-queued it
        jobs.job_progress(job=claimed, progress=1)
        raise AssertionError("not reached")

    assert jobs.job_execute(job_id=job.pk, body=body) is None
    assert Job.objects.get(pk=job.pk).state == Job.State.PENDING  # left for the next claim, not overwritten


def test_the_task_class_runs_the_body_with_the_claimed_job(world):
    from enrollment.tasks.base import job_task

    @job_task(name="tests.jobs.echo")
    def echo(job):
        return {"kind": job.kind}

    job = Job.objects.create(kind=Job.Kind.REPORT)
    assert isinstance(echo, JobTask) and not echo.acks_late
    echo(job.pk)
    assert Job.objects.get(pk=job.pk).result == {"kind": "report"}


def naive_claim(job_id, worker, barrier):
    """The negative control: read, then write without a condition (what a claim must not be)."""
    state = Job.objects.values_list("state", flat=True).get(pk=job_id)
    barrier.wait()
    if state != Job.State.PENDING:
        return False
    Job.objects.filter(pk=job_id).update(state=Job.State.RUNNING, worker=worker)
    return True


def real_claim(job_id, worker, barrier):
    barrier.wait()
    got = jobs.job_claim(job_id=job_id, worker=worker)
    if got is not None:
        barrier.wait()  # hold the job until the other side has tried
        jobs.job_succeed(job=got)
    else:
        barrier.wait()
    return got is not None


def race(claim, job_id):
    barrier = threading.Barrier(2, timeout=20)
    results = []

    def run(name):
        try:
            results.append(claim(job_id, name, barrier))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_claiming_at_the_same_moment_get_the_job_once(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)
    assert sorted(race(real_claim, job.pk)) == [False, True]


@pytest.mark.django_db(transaction=True)
def test_negative_control_a_claim_without_its_condition_lets_both_deliveries_run(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)
    assert race(naive_claim, job.pk) == [True, True]


def test_a_job_still_marked_running_by_a_dead_worker_is_taken_over_only_by_a_task_safe_to_run_twice(world):
    job = Job.objects.create(kind=Job.Kind.REPORT, state=Job.State.RUNNING, worker="dead:1", heartbeat_at=timezone.now())
    assert jobs.job_claim(job_id=job.pk, worker="w:2") is None
    taken = jobs.job_claim(job_id=job.pk, worker="w:2", take_over=True)  # the dead worker holds no lock
    assert taken.worker == "w:2"
    jobs.job_succeed(job=taken)


@pytest.mark.django_db(transaction=True)
def test_a_running_job_whose_worker_is_alive_is_not_taken_over(world):
    job = Job.objects.create(kind=Job.Kind.REPORT)
    alive = jobs.job_claim(job_id=job.pk, worker="alive:1")  # this connection holds the job's lock
    got = []

    def other():
        try:
            got.append(jobs.job_claim(job_id=job.pk, worker="other:2", take_over=True))
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert got == [None]
    # Nor does the sweeper touch it, however old its heartbeat: its connection is alive.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(minutes=10))
    thread = threading.Thread(target=lambda: (got.append(jobs.jobs_sweep()), connections.close_all()))
    thread.start()
    thread.join()
    assert got[1].requeued == [] and got[1].failed == []
    jobs.job_succeed(job=alive)


@pytest.fixture
def broker_down():
    """A real broker address where nothing listens, and tasks not run in-process."""
    conf = current_app.conf
    saved = conf.broker_url, conf.task_always_eager, current_app._pool
    conf.broker_url, conf.task_always_eager, current_app._pool = "redis://127.0.0.1:1/0", False, None
    current_app.amqp._producer_pool = None
    yield
    current_app.pool.force_close_all()
    conf.broker_url, conf.task_always_eager, current_app._pool = saved
    current_app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_starting_a_job_with_the_broker_down_leaves_it_queued_for_the_sweeper(world, broker_down, client):
    from billing.services import debit_batches_start

    job = debit_batches_start(insurance_year=world.year, user=world.city_staff)  # no exception, no 500
    job.refresh_from_db()
    assert (job.state, job.enqueued_at) == (Job.State.PENDING, None)

    client.force_login(world.city_staff)
    response = client.post("/admin/billing/debitbatch/generate/", {"insurance_year": world.year.pk}, follow=True)
    assert response.status_code == 200 and "任务已排队" in response.content.decode()

    assert jobs.jobs_sweep().resent == []  # still down: nothing lost, nothing sent


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_sends_a_job_whose_message_never_left(world):
    from billing.tasks import generate_debit_batches

    job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, task_name=generate_debit_batches.name, insurance_year=world.year)
    summary = jobs.jobs_sweep()
    assert summary.resent == [job.pk]
    assert Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED  # no broker in tests: it ran in-process


def test_the_sweeper_is_scheduled_every_two_minutes(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("enrollment.migrations.0009_job_sweeper_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(task="enrollment.sweep_jobs")
    assert task.enabled and (task.interval.every, task.interval.period) == (2, "minutes")


def test_a_dead_job_whose_task_is_not_safe_to_repeat_is_failed_with_what_to_do(world):
    from enrollment.tasks.students import import_students

    old = timezone.now() - datetime.timedelta(minutes=10)
    job = Job.objects.create(kind=Job.Kind.STUDENT_IMPORT, state=Job.State.RUNNING, task_name=import_students.name,
                             worker="dead:1", heartbeat_at=old)
    summary = jobs.jobs_sweep()
    job.refresh_from_db()
    assert summary.failed == [job.pk] and job.state == Job.State.FAILED
    assert "处理进程已中断" in job.error and "重新发起" in job.error
    assert connection.is_usable()


@pytest.fixture
def eager_retries():
    """In-process, Celery runs each retry at once; its failures are returned, not raised through the retry chain."""
    saved = current_app.conf.task_eager_propagates
    current_app.conf.task_eager_propagates = False
    yield
    current_app.conf.task_eager_propagates = saved


@pytest.mark.django_db(transaction=True)  # the task closes the broken connection, as a worker would
def test_a_task_safe_to_repeat_retries_after_a_lost_database_connection_then_succeeds(world, eager_retries):
    from django.db import OperationalError

    from enrollment.tasks.base import job_task

    calls = []

    @job_task(name="tests.jobs.flaky", idempotent=True, max_retries=3)
    def flaky(job):
        calls.append(job.attempts)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return {"ok": True}

    job = Job.objects.create(kind=Job.Kind.REPORT)
    flaky.apply(args=[job.pk])  # in-process: each retry runs at once
    job.refresh_from_db()
    assert (job.state, job.result, job.attempts, calls) == (Job.State.SUCCEEDED, {"ok": True}, 3, [1, 2, 3])


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_database_stays_away_ends_failed_never_running(world, eager_retries):
    from django.db import OperationalError

    from enrollment.tasks.base import job_task

    @job_task(name="tests.jobs.down", idempotent=True, max_retries=2)
    def down(job):
        raise OperationalError("could not connect to server")

    job = Job.objects.create(kind=Job.Kind.REPORT)
    result = down.apply(args=[job.pk])
    assert result.failed() and isinstance(result.result, OperationalError)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "数据库连接多次中断" in job.error and job.attempts == 3
