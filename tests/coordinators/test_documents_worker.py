"""Rights records rendered by a real Celery worker: the service's message goes through Redis, the worker writes
the PDF, and a duplicate delivery of the same message does not render it again."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from pypdf import PdfReader

from coordinators.services.documents import Scope, request_rights_records
from enrollment.models import Job
from enrollment.services.common import Actor
from tests.coordinators.documents_support import enroll
from tests.testenv import database_url

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("DOCUMENTS_TEST_BROKER_URL", "redis://127.0.0.1:6379/7")
QUEUE = "documents-worker-test"
TASK = "coordinators.render_rights_records"
STUDENTS = 30


def worker_env(media_root: Path) -> dict:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(db),
        REDIS_URL=BROKER, CELERY_BROKER_URL=BROKER, CELERY_TASK_ALWAYS_EAGER="0", DB_CONN_MAX_AGE="0",
        PRIVATE_MEDIA_ROOT=str(media_root),
    )
    return env


def wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_renders_the_school_and_ignores_a_duplicate_message(world, tmp_path, monkeypatch):
    media = tmp_path / "private"
    for i in range(STUDENTS):
        enroll(world, paid=i % 3 != 0, class_name=f"{i % 4 + 1}班")
    # Not the current app: the project's app must stay the one the code under test sends with.
    sender = Celery(broker=BROKER, set_as_current=False)
    sender.conf.broker_connection_retry_on_startup = True
    # The job's wake-up message goes to this test's worker queue instead of running in-process.
    monkeypatch.setattr(
        "coordinators.tasks.documents.render_rights_records_job.apply",
        lambda args, **options: sender.send_task(TASK, args=args, queue=QUEUE),
    )
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--pool=solo", "-Q", QUEUE, "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT, env=worker_env(media), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        job = request_rights_records(
            actor=Actor(user=world.coordinator, source="portal"), school=world.school, insurance_year=world.year,
            scope=Scope.SCHOOL,
        )

        def finished():
            job.refresh_from_db()
            return job.state in (Job.State.SUCCEEDED, Job.State.FAILED)

        assert wait(finished, 120), (tmp_path / "worker.log").read_text()
        assert job.state == Job.State.SUCCEEDED, job.error
        assert (job.progress, job.total) == (STUDENTS, STUDENTS)
        # The file is moved into place just after the job's row commits.
        assert wait(lambda: (media / job.output_file.name).exists(), 10)
        assert len(PdfReader(media / job.output_file.name).pages) == STUDENTS
        first_finish = job.finished_at

        sender.send_task(TASK, args=[job.pk], queue=QUEUE)  # the same message delivered again
        # The solo worker takes messages in order: once a later job is done, the duplicate has been handled.
        later = request_rights_records(
            actor=Actor(user=world.coordinator, source="portal"), school=world.school, insurance_year=world.year,
            scope=Scope.CLASS, class_name="1班",
        )
        assert wait(lambda: Job.objects.get(pk=later.pk).state == Job.State.SUCCEEDED, 120)
        job.refresh_from_db()
        assert job.finished_at == first_finish and job.state == Job.State.SUCCEEDED
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
