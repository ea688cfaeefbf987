"""Two runs at once, a run that fails half-way and a run whose process is killed: each feed applied exactly once."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections

from enrollment.models import AuditEvent, Enrollment, EnrollmentStatus, Roster
from graduates import services
from graduates.models import DeregistrationRun, GraduateFeed, GraduateRecord
from tests.graduates.conftest import enrolled_student, receive, record
from tests.graduates.feed_commit import before_feed_commit
from tests.testenv import database_url

ROOT = Path(__file__).resolve().parents[2]


def _feeds_with_students(world, year, count):
    feeds = []
    for n in range(count):
        students = [enrolled_student(world.school, year)[0] for _ in range(3)]
        feeds.append(receive([record(s, class_name=f"{n}") for s in students]))
    return feeds


def _assert_each_graduate_stopped_once():
    assert set(Enrollment.objects.values_list("status", flat=True)) == {EnrollmentStatus.DEREGISTERED}
    deregistered = AuditEvent.objects.filter(action="graduate_deregistered")
    assert deregistered.count() == Enrollment.objects.count()
    assert deregistered.values("object_id").distinct().count() == Enrollment.objects.count()
    assert not GraduateRecord.objects.filter(outcome=GraduateRecord.Outcome.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_process_each_feed_exactly_once(world, next_year, monkeypatch):
    feeds = _feeds_with_students(world, next_year, 6)
    barrier = threading.Barrier(2)
    runs, errors = [], []

    def worker():
        try:
            barrier.wait()
            # Slow each feed down so the two runs overlap for sure.
            with before_feed_commit(lambda feed_id: time.sleep(0.1)):
                runs.append(services.deregistration_run(triggered_by="thread", collect_inbox=False))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(runs) == 2
    assert sum(run.feeds_processed for run in runs) == len(feeds)
    assert all(run.feeds_processed > 0 for run in runs), "both runs should have taken part"
    assert set(GraduateFeed.objects.values_list("state", flat=True)) == {GraduateFeed.State.DONE}
    for feed in GraduateFeed.objects.all():
        assert set(feed.records.values_list("run_id", flat=True)) == {feed.claimed_by_run_id}
    _assert_each_graduate_stopped_once()
    assert Roster.objects.get(school=world.school).version == 6


def test_run_failing_half_way_leaves_whole_feeds_and_the_rerun_finishes(world, next_year, monkeypatch):
    first, second = _feeds_with_students(world, next_year, 2)

    def crash_on_second(feed_id):
        if feed_id == second.pk:
            raise RuntimeError("connection lost")

    with before_feed_commit(crash_on_second), pytest.raises(RuntimeError):
        services.deregistration_run(triggered_by="test", collect_inbox=False)

    failed = DeregistrationRun.objects.get()
    assert failed.state == DeregistrationRun.State.FAILED and "connection lost" in failed.error
    assert (failed.feeds_processed, failed.stopped) == (1, 3)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == GraduateFeed.State.DONE
    # Nothing of the second feed was applied: its records, enrollments and audit are untouched.
    assert set(second.records.values_list("outcome", flat=True)) == {GraduateRecord.Outcome.PENDING}
    assert Enrollment.objects.filter(status=EnrollmentStatus.REGISTERED).count() == 3
    assert AuditEvent.objects.filter(action="graduate_deregistered").count() == 3

    rerun = services.deregistration_run(triggered_by="test", collect_inbox=False)
    assert (rerun.state, rerun.feeds_processed, rerun.stopped) == ("done", 1, 3)
    second.refresh_from_db()
    assert second.state == GraduateFeed.State.DONE and second.claimed_by_run == rerun
    _assert_each_graduate_stopped_once()


def test_feed_of_a_run_marked_failed_by_staff_goes_to_the_next_run(world, next_year):
    (feed,) = _feeds_with_students(world, next_year, 1)
    stuck = DeregistrationRun.objects.create(triggered_by="lost")
    GraduateFeed.objects.filter(pk=feed.pk).update(state="processing", claimed_by_run=stuck, claimed_at=stuck.started_at)
    assert services.run_mark_failed(run=stuck, reason="进程无响应") == 1
    run = services.deregistration_run(triggered_by="test", collect_inbox=False)
    assert run.feeds_processed == 1
    _assert_each_graduate_stopped_once()


@pytest.mark.django_db(transaction=True)
def test_run_killed_mid_feed_is_detected_and_the_rerun_completes(world, next_year):
    first, second = _feeds_with_students(world, next_year, 2)
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(db),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "GRADUATE_FEED_INBOX": str(ROOT / "var" / "no-inbox-for-tests"),
    }
    # The child applies the first feed, then hangs inside the second feed's transaction until killed.
    script = (
        "import django, os, time; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup()\n"
        "from graduates import services\n"
        "from tests.graduates.feed_commit import before_feed_commit\n"
        f"with before_feed_commit(lambda feed_id: time.sleep(120) if feed_id == {second.pk} else None):\n"
        "    services.deregistration_run(triggered_by='doomed', collect_inbox=False)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if GraduateFeed.objects.filter(pk=second.pk, state="processing").exists() and GraduateFeed.objects.filter(
                pk=first.pk, state="done"
            ).exists():
                break
            assert child.poll() is None, "the child run ended early"
            time.sleep(0.2)
        else:
            pytest.fail("the child run never reached the second feed")
        time.sleep(0.5)  # let it enter the second feed's transaction
    finally:
        child.kill()
        child.wait(timeout=30)

    doomed = DeregistrationRun.objects.get(triggered_by="doomed")
    assert doomed.state == DeregistrationRun.State.RUNNING  # as a killed process leaves it
    assert Enrollment.objects.filter(status=EnrollmentStatus.REGISTERED).count() == 3

    # The server notices the dropped connection; give it a moment to roll back and release the locks.
    for _attempt in range(50):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [services.RUN_LOCK_SPACE, doomed.pk])
            free = cursor.fetchone()[0]
            if free:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [services.RUN_LOCK_SPACE, doomed.pk])
                break
        time.sleep(0.1)
    rerun = services.deregistration_run(triggered_by="test", collect_inbox=False)

    doomed.refresh_from_db()
    assert doomed.state == DeregistrationRun.State.FAILED
    assert (rerun.feeds_processed, rerun.stopped) == (1, 3)
    second.refresh_from_db()
    assert second.claimed_by_run == rerun and second.state == GraduateFeed.State.DONE
    _assert_each_graduate_stopped_once()


@pytest.mark.django_db(transaction=True)
def test_registration_racing_the_run_waits_and_leaves_the_graduate_off_the_paying_roster(world, next_year, monkeypatch):
    from enrollment.services.common import Actor, roster_get_or_create
    from enrollment.services.enrollments import enrollment_refresh
    from tests.factories import StudentFactory

    student = StudentFactory(school=world.school)
    roster_get_or_create(school=world.school, insurance_year=next_year)
    receive([record(student)])
    stale = type(student).objects.get(pk=student.pk)  # loaded before the run, still in school
    registration = {}

    def register():
        try:
            registration["enrollment"] = enrollment_refresh(actor=Actor.job("test"), student=stale, insurance_year=next_year)
        finally:
            connections.close_all()

    def before_commit(feed_id):
        # The run holds the roster lock here: the registration must wait for the feed to commit.
        thread = threading.Thread(target=register)
        thread.start()
        thread.join(timeout=1)
        registration["waited"] = thread.is_alive()
        registration["thread"] = thread

    with before_feed_commit(before_commit):
        run = services.deregistration_run(triggered_by="test", collect_inbox=False)
    registration["thread"].join(timeout=30)
    assert registration["waited"]
    assert GraduateRecord.objects.get().outcome == GraduateRecord.Outcome.NOT_ENROLLED and run.matched == 1
    enrollment = Enrollment.objects.get(student=student, insurance_year=next_year)
    assert enrollment.pk == registration["enrollment"].pk
    assert enrollment.status == EnrollmentStatus.REMOVED and enrollment.fee_due == 0
