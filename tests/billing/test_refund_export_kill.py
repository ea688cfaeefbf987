"""A real worker process exporting refund files, killed with SIGKILL at random points, again and again.

Refund files are exported by staff (the admin action, one file per school with
open refunds), not by a job: the recovery after a crash is the beat's file sweep
(a committed file still staged is moved into place) and staff exporting again
(which rewrites a committed file still missing, from its rows). After each kill
and recovery: every refund is in exactly one committed file, each file is exactly
what its rows give (lines, amount, checksum), and no file has a final name
without its row.
"""

import datetime
import hashlib
import time
from decimal import Decimal

import pytest

from billing import services
from billing.models import Refund, RefundExport
from config.celery import app
from enrollment.models import Channel, Enrollment
from enrollment.services.outward import outward_files_sweep
from tests.billing.conftest import make_account, make_bank
from tests.billing.test_worker_kill import KILLS, seeded
from tests.factories import SchoolFactory, StudentFactory
from tests.worker_pool import final_files, staged_files, wait

pytestmark = [pytest.mark.worker, pytest.mark.long, pytest.mark.django_db(transaction=True)]


def refund_files_agree_with_rows(root) -> None:
    assert not Refund.objects.exclude(state=Refund.State.EXPORTED).exists()
    in_files = []
    for export in RefundExport.objects.select_related("school"):
        refunds = list(Refund.objects.filter(export=export).select_related("enrollment__student").order_by("id"))
        content = (root / export.file.name).read_bytes()
        expected, checksum, total = services._refund_file_content(export=export, refunds=refunds)
        assert content == expected, export  # the file is its rows, byte for byte
        lines = content.decode().splitlines()
        body = [line for line in lines if line.startswith("D|")]
        assert len(body) == export.line_count == len(refunds)
        assert sum(Decimal(line.split("|")[5]) for line in body) == export.total_amount == total
        assert hashlib.sha256("".join(f"{line}\n" for line in body).encode()).hexdigest() == export.checksum == checksum
        assert lines[-1] == f"T|SHA256|{export.checksum}"
        in_files.extend(line.split("|")[2] for line in body)
    assert len(in_files) == len(set(in_files)) == Refund.objects.count()
    assert final_files(root, "refund-exports") == {e.file.name for e in RefundExport.objects.all()}


def test_refund_exports_killed_at_random_points_leave_every_refund_in_one_file(world, kill_broker):
    pool, rng = kill_broker, seeded("refund exports")
    worker = pool.redeliver
    bank = make_bank(world.city, code="RF")
    signals = pool.redis
    counts = {"rounds": 0, "landed": 0}
    refunds = iter(range(100_000))

    def add_refunds(round_):
        for n in range(2):
            school = SchoolFactory(code=f"RF{round_:03d}{n}", office=world.office)
            make_account(school, bank)
            for _ in range(rng.randint(2, 4)):
                enrollment = Enrollment.objects.create(
                    student=StudentFactory(school=school), insurance_year=world.year, school=school, channel=Channel.SCHOOL,
                    fee_due=Decimal("400.00"),
                )
                Refund.objects.create(reference=f"RFD{next(refunds):06d}", enrollment=enrollment, school=school,
                                      amount=Decimal(rng.choice(["20.00", "35.50", "400.00"])), reason="毕业离校")

    def export(token):
        signals.delete(f"refunds-export:{token}")
        app.send_task("tests.refunds_export", args=[token], queue=worker.queue)

    def state(token):
        value = signals.get(f"refunds-export:{token}")
        return value.decode() if value else None

    began, cpu = time.monotonic(), pool.cpu_seconds()
    while counts["landed"] < KILLS:
        counts["rounds"] += 1
        assert counts["rounds"] <= KILLS * 4, counts
        add_refunds(counts["rounds"])
        token = f"{counts['rounds']}-{time.monotonic_ns()}"
        export(token)
        assert wait(lambda token=token: state(token) is not None, 60), pool.logs()
        time.sleep(rng.uniform(0.0, 0.5))
        worker.kill()
        counts["landed"] += state(token) == "started"
        # The recovery: the beat's file sweep, then staff export again (the same admin action).
        outward_files_sweep()
        rerun = f"{token}-again"
        export(rerun)
        assert wait(lambda rerun=rerun: state(rerun) == "done", 60), pool.logs()
        refund_files_agree_with_rows(pool.media)
    print("refund exports:", counts, f"wall {time.monotonic() - began:.1f} s, cpu {pool.cpu_seconds() - cpu:.1f} s")

    outward_files_sweep(older_than=datetime.timedelta(0))
    assert staged_files(pool.media) == set()
    refund_files_agree_with_rows(pool.media)
