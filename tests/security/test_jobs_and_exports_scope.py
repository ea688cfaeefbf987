"""Every background job kind and every export, started and downloaded by each member of staff, holds only their own.

Guangzhou (Yuexiu and Haizhu districts, a bank-debit year) and Suzhou (a university, a tax-declaration year) side by
side, each school with a student, a submitted card photo, a confirmed roster and a coordinator. Four staff personas
(Guangzhou city staff, Suzhou city staff, the two Guangzhou district staff) start each job kind and download each
export through the pages they use; nothing of another city (or, for district staff, another district) may come back.
The walk is keyed by ``Job.Kind`` and by the export registry: a new kind or export without an entry fails the test.
"""

import io
import zipfile
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from openpyxl import load_workbook

from billing.models import Declaration
from billing.services import declarations_generate
from coordinators.models import Coordinator
from enrollment.exports import EXPORTS
from enrollment.models import CitizenCard, Job
from enrollment.services.common import Actor
from graduates.models import GraduateFeed
from tests.billing.conftest import confirm_roster
from tests.factories import CityFactory, InsuranceYearFactory, OfficeFactory, SchoolFactory, login, make_user
from tests.graduates.conftest import receive, record


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    settings.GRADUATE_FEED_INBOX = tmp_path / "inbox"


@pytest.fixture
def tenants(world, django_capture_on_commit_callbacks):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    centre = OfficeFactory(code="sz-centre", city=suzhou, name="苏州市社保中心", district="姑苏区")
    sz_school = SchoolFactory(code="SZ-U-001", name="苏州大学", office=centre, kind="university")
    sz_year = InsuranceYearFactory(city=suzhou, label="2027", fee_standard="140.00", collection_route="tax_declaration")
    sz_staff = make_user("staff-suzhou", role="city_staff", city=suzhou, staff=True)
    sz_coordinator = make_user("coord-suzhou", role="coordinator", school=sz_school)
    schools = {"yuexiu": world.school, "haizhu": world.other_school, "suzhou": sz_school}
    years = {"yuexiu": world.year, "haizhu": world.year, "suzhou": sz_year}
    coordinators = {"yuexiu": world.coordinator, "haizhu": world.other_coordinator, "suzhou": sz_coordinator}
    students = {}
    for tenant, school in schools.items():
        confirm_roster(school, years[tenant], coordinators[tenant], paying=1)
        student = school.students.get()
        students[tenant] = student
        card, _ = CitizenCard.objects.get_or_create(student=student)
        card.state = CitizenCard.State.PHOTO_SUBMITTED
        card.photo.save(f"{student.identity_number}.jpg", ContentFile(b"\xff\xd8\xff\xe0 photo"), save=True)
        Coordinator.objects.create(
            school=school, name=f"{school.name}协管员", gender="F", department="教务处", post="干事",
            work_phone="020-12345678", mobile="13800000000",
        )
    with django_capture_on_commit_callbacks(execute=True):  # the workbooks are moved into place after commit
        declarations_generate(insurance_year=sz_year, actor=Actor(user=None, source="job", label="test"))
    # What identifies each tenant in any file or page: its school and its student.
    markers = {
        tenant: {schools[tenant].name, schools[tenant].code, students[tenant].identity_number}
        for tenant in schools
    }
    staff = {
        "guangzhou_city": (world.city_staff, {"yuexiu", "haizhu"}),
        "suzhou_city": (sz_staff, {"suzhou"}),
        "yuexiu_district": (world.district_staff, {"yuexiu"}),
        "haizhu_district": (world.other_district_staff, {"haizhu"}),
    }
    return SimpleNamespace(run_jobs=lambda: django_capture_on_commit_callbacks(execute=True), world=world, schools=schools, years=years, students=students, markers=markers, staff=staff,
                           suzhou=suzhou, sz_year=sz_year)


def foreign_markers(tenants, own: set[str]) -> set[str]:
    return set().union(*(markers for tenant, markers in tenants.markers.items() if tenant not in own))


def strings_of_workbook(content: bytes) -> set[str]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return {str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row if cell}


def strings_of_zip(content: bytes) -> set[str]:
    found = set()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            found.add(name)
            if name.endswith(".xlsx"):
                found |= strings_of_workbook(archive.read(name))
    return found


def leaked(found: set[str], forbidden: set[str]) -> set[str]:
    return {marker for marker in forbidden if any(marker in text for text in found)}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Jobs, by kind ------------------------------------------------------------


def start_report(client, tenants, user):
    return client.post(reverse("bureau:report_start"))


def start_photo_export(client, tenants, user):
    return client.post(reverse("bureau:cards_export"))


def start_graduate_run(client, tenants, user):
    return client.post(reverse("admin:graduates_graduatefeed_run"))


def start_batch_generation(client, tenants, user):
    # Every year offered to anyone is posted in turn: another city's year must be refused.
    return [client.post(reverse("admin:billing_debitbatch_generate"), {"insurance_year": year.pk})
            for year in {tenants.world.year, tenants.sz_year}]


def start_declaration_generation(client, tenants, user):
    return [client.post(reverse("admin:billing_declaration_generate"), {"insurance_year": year.pk})
            for year in {tenants.world.year, tenants.sz_year}]


def start_student_import(client, tenants, user):
    csv = "姓名,身份证号码\n".encode()
    return [client.post(reverse("admin:coordinators_student_import"),
                        {"school": school.pk, "file": ContentFile(csv, name="students.csv"), "mode": "strict"})
            for school in tenants.schools.values()]


# Job kinds no member of staff starts: the school's own (portal) or not created as jobs at all.
NOT_STARTED_BY_STAFF = {
    Job.Kind.DOCUMENTS: "协管员在门户打印本校的权益记录单",
    Job.Kind.EXEMPTION_IMPORT: "免缴名单导入在后台同步完成，不建后台任务",
    Job.Kind.RESULT_IMPORT: "扣款结果导入在后台同步完成，不建后台任务",
    Job.Kind.RECEIPT_IMPORT: "电子票据导入在后台同步完成，不建后台任务",
}
JOB_STARTERS = {
    Job.Kind.REPORT: start_report,
    Job.Kind.PHOTO_EXPORT: start_photo_export,
    Job.Kind.GRADUATE_RUN: start_graduate_run,
    Job.Kind.BATCH_GENERATION: start_batch_generation,
    Job.Kind.DECLARATION_GENERATION: start_declaration_generation,
    Job.Kind.STUDENT_IMPORT: start_student_import,
}


def test_every_job_kind_is_walked_or_said_why_not():
    assert set(JOB_STARTERS) | set(NOT_STARTED_BY_STAFF) == set(Job.Kind.values)


def test_jobs_started_by_staff_touch_and_show_only_their_own_city_or_district(
    client, tenants, django_capture_on_commit_callbacks
):
    receive([record(tenants.students["yuexiu"])])
    receive([record(tenants.students["suzhou"])])
    jobs_of, downloaded = {}, set()
    for persona, (user, own) in tenants.staff.items():
        login(client, user)
        before = set(Job.objects.values_list("pk", flat=True))
        for start in JOB_STARTERS.values():
            with django_capture_on_commit_callbacks(execute=True):
                start(client, tenants, user)
        jobs = Job.objects.exclude(pk__in=before)
        jobs_of[persona] = set(jobs.values_list("pk", flat=True))
        forbidden = foreign_markers(tenants, own)
        for job in jobs:
            assert job.insurance_year is None or job.insurance_year.city_id in {
                tenants.years[t].city_id for t in own
            }, (persona, job.kind)
            assert job.school is None or job.school.code in {tenants.schools[t].code for t in own}, (persona, job.kind)
            assert not leaked({str(job.result), job.error}, forbidden), (persona, job.kind)
            if job.output_file:
                download = client.get(reverse("bureau:job_download", args=[job.pk]))
                assert download.status_code == 200, (persona, job.kind)
                content = body(download)
                found = strings_of_zip(content) if content[:2] == b"PK" and job.kind == Job.Kind.PHOTO_EXPORT else (
                    strings_of_workbook(content)
                )
                assert not leaked(found, forbidden), (persona, job.kind, leaked(found, forbidden))
                downloaded.add((persona, job.kind))
    assert {kind for _persona, kind in downloaded} == {Job.Kind.REPORT, Job.Kind.PHOTO_EXPORT}
    assert len(downloaded) == 2 * len(tenants.staff)
    # Each city's feed was processed by the run its own staff started: Guangzhou's run stopped no Suzhou graduate.
    processed_by = {
        feed.city.code: feed.claimed_by_run.triggered_by for feed in GraduateFeed.objects.select_related("city", "claimed_by_run")
    }
    assert processed_by == {"guangzhou": "admin:staff-city", "suzhou": "admin:staff-suzhou"}
    # Nobody opens or downloads another's job, from the staff pages or the admin job list.
    for persona, (user, own) in tenants.staff.items():
        login(client, user)
        others = set().union(*(pks for name, pks in jobs_of.items() if name != persona))
        for pk in others:
            assert client.get(reverse("bureau:job", args=[pk])).status_code == 404, persona
            assert client.get(reverse("bureau:job_download", args=[pk])).status_code == 404, persona
        listing = client.get(reverse("admin:enrollment_job_changelist"))
        listed = {job.pk for job in listing.context["cl"].result_list}
        foreign_schools = {tenants.schools[t].pk for t in tenants.schools if t not in own}
        assert not Job.objects.filter(pk__in=listed, school_id__in=foreign_schools).exists(), persona
        assert not Job.objects.filter(pk__in=listed).exclude(insurance_year=None).exclude(
            insurance_year__city_id__in={tenants.years[t].city_id for t in own}
        ).exists(), persona


# --- Exports, by the registry -------------------------------------------------


def fetch_annex2(client, tenants, user):
    return [client.get(reverse("admin:coordinators_annex2"))] + [
        client.get(reverse("admin:coordinators_annex2"), {"office": school.office.code}) for school in tenants.schools.values()
    ]


def fetch_declarations(client, tenants, user):
    return [client.get(reverse("billing:declaration-file", args=[d.pk])) for d in Declaration.objects.all()]


def fetch_year_end_report(client, tenants, user):
    responses = []
    for year in {tenants.world.year, tenants.sz_year}:
        with tenants.run_jobs():
            started = client.post(reverse("bureau:report_start"), {"year": year.pk})
        if started.status_code == 302 and "/jobs/" in started["Location"]:
            responses.append(client.get(started["Location"].rstrip("/") + "/download/"))
    return responses


def fetch_card_list(client, tenants, user):
    with tenants.run_jobs():
        started = client.post(reverse("bureau:cards_export"))
    return [client.get(started["Location"].rstrip("/") + "/download/")] if started.status_code == 302 else []


# Exports staff cannot fetch at all: the coordinator's own school only, or no tenant's data in them.
NOT_FETCHED_BY_STAFF = {
    "import_template": "空白模板，不含任何学校的数据",
    "import_error_report": "上传人自己的文件的错误行（学生导入任务，见任务检查）",
    "student_register": "仅协管员导出本校名册",
    "roster": "仅协管员导出本校名单",
    "coordinator_receipts": "仅协管员下载本校电子票据",
}
EXPORT_FETCHERS = {
    "coordinator_annex2": fetch_annex2,
    "tax_declaration": fetch_declarations,
    "year_end_report": fetch_year_end_report,
    "card_maker_list": fetch_card_list,
}


def test_every_registered_export_is_walked_or_said_why_not():
    assert set(EXPORT_FETCHERS) | set(NOT_FETCHED_BY_STAFF) == set(EXPORTS)


def test_exports_downloaded_by_staff_hold_nothing_of_another_city_or_district(
    client, tenants, django_capture_on_commit_callbacks
):
    assert Declaration.objects.filter(school=tenants.schools["suzhou"]).exists()
    downloaded = set()
    for persona, (user, own) in tenants.staff.items():
        login(client, user)
        forbidden = foreign_markers(tenants, own)
        for name, fetch in EXPORT_FETCHERS.items():
            responses = fetch(client, tenants, user)
            for response in responses:
                if response.status_code != 200:
                    assert response.status_code in (302, 403, 404), (persona, name, response.status_code)
                    continue
                content = body(response)
                if content[:2] != b"PK":
                    found = {content.decode("utf-8", "replace")}
                elif name == "card_maker_list":
                    found = strings_of_zip(content)
                else:
                    found = strings_of_workbook(content)
                assert not leaked(found, forbidden), (persona, name, leaked(found, forbidden))
                downloaded.add(name)
    assert downloaded == set(EXPORT_FETCHERS)


def test_staff_of_each_tenant_get_their_own_exports(client, tenants, django_capture_on_commit_callbacks):
    """The walk above is not vacuous: each persona's files hold its own schools."""
    login(client, tenants.staff["suzhou_city"][0])
    (declaration,) = fetch_declarations(client, tenants, None)
    assert declaration.status_code == 200
    assert leaked(strings_of_workbook(body(declaration)), tenants.markers["suzhou"])
    login(client, tenants.staff["yuexiu_district"][0])
    (report,) = fetch_year_end_report(client, tenants, None)
    assert report.status_code == 200
    assert tenants.schools["yuexiu"].name in strings_of_workbook(body(report))
