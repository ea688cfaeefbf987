"""Rights records rendered by real workers killed with SIGKILL at random points, again and again.

Each round queues a school's rights records through the service coordinators use,
kills the task process after a random delay (seeded; the seed is printed), lets the
recovery finish the job (the message handed back, or the job sweeper), then checks:
every job succeeded with its one PDF in place, one page per enrolled student of its
school, and no PDF under a final name without the job that owns it.
"""

import datetime

import pytest
from pypdf import PdfReader

from coordinators.services.documents import Scope, request_rights_records
from enrollment.models import Enrollment, Job
from enrollment.services.common import Actor
from enrollment.services.outward import outward_files_sweep
from tests.billing.test_worker_kill import KILLS, seeded
from tests.coordinators.documents_support import enroll
from tests.factories import SchoolFactory
from tests.worker_pool import final_files, kill_jobs, staged_files

pytestmark = [pytest.mark.worker, pytest.mark.long, pytest.mark.django_db(transaction=True)]


def documents_agree_with_rows(root) -> None:
    jobs = list(Job.objects.filter(kind=Job.Kind.DOCUMENTS))
    for job in jobs:
        assert job.state == Job.State.SUCCEEDED, job.error
        students = Enrollment.objects.filter(school=job.school, insurance_year=job.insurance_year).count()
        pages = len(PdfReader(root / job.output_file.name).pages)
        assert pages == job.total == job.progress == job.result["pages"] == students, job.pk
    assert final_files(root, "jobs/output") == {job.output_file.name for job in jobs}


def test_documents_killed_at_random_points_end_with_one_complete_pdf_per_job(world, kill_broker):
    pool, rng = kill_broker, seeded("documents")
    actor = Actor(user=world.coordinator, source="portal")

    def start(round_):
        school = SchoolFactory(code=f"DK{round_:03d}", office=world.office)
        for n in range(rng.randint(4, 8)):
            enroll(world, school=school, paid=n % 2 == 0)
        job = request_rights_records(actor=actor, school=school, insurance_year=world.year, scope=Scope.SCHOOL)
        return job.pk

    counts = kill_jobs(pool, rng, start=start, check=lambda: documents_agree_with_rows(pool.media),
                       kills=KILLS, span=0.6, max_rounds=KILLS * 4)
    print("documents:", counts)
    outward_files_sweep(older_than=datetime.timedelta(0))
    assert staged_files(pool.media) == set()
    documents_agree_with_rows(pool.media)
