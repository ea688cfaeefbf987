"""Personal rights records and treatment vouchers (R17): PDF content, scoping, progress and file expiry."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from coordinators.services.documents import Scope, request_rights_records
from coordinators.tasks.documents import delete_expired_documents, render_rights_records_job
from enrollment.identity import mask
from enrollment.models import Job
from enrollment.services.common import Actor
from tests.coordinators.documents_support import (  # noqa: F401
    add_hotline,
    enroll,
    glyph_outline_size,
    login,
    pdf_pages,
    private_storage,
)

pytestmark = pytest.mark.usefixtures("private_storage")


def portal(user):
    return Actor(user=user, source="portal")


def print_job(world, django_capture_on_commit_callbacks, **kwargs) -> Job:
    with django_capture_on_commit_callbacks(execute=True):
        job = request_rights_records(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, **kwargs)
    job.refresh_from_db()
    return job


def job_pdf(job: Job) -> bytes:
    with job.output_file.open("rb") as handle:
        return handle.read()


def test_school_pdf_has_one_page_per_student_with_name_masked_number_and_coverage(world, django_capture_on_commit_callbacks):
    add_hotline(world.city)
    paid = enroll(world, paid=True, name="王小明", class_name="3班", grade=3)
    unpaid = enroll(world, name="李小红", class_name="4班", grade=4)

    job = print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)

    assert job.state == Job.State.SUCCEEDED
    assert (job.progress, job.total) == (2, 2)
    first, second = pdf_pages(job_pdf(job))
    number = paid.student.identity_number
    assert "王小明" in first and mask(number) in first and number not in first
    start, end = world.year.coverage_start, world.year.coverage_end
    assert f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日" in first
    assert "越秀第一中学" in first and "3班" in first and "200.00元" in first and "已缴费" in first
    assert paid.receipt_number in first and "12333" in first and "越秀分局" in first
    assert "就医凭证" in first
    assert "李小红" in second and mask(unpaid.student.identity_number) in second
    # The voucher is only printed for a covered student.
    assert "城乡居民基本医疗保险就医凭证" not in second and "暂不发放就医凭证" in second


def test_funded_student_gets_a_voucher_and_shows_the_exempt_category_state(world, django_capture_on_commit_callbacks):
    enroll(world, funded=True, name="赵财补")
    (page,) = pdf_pages(job_pdf(print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)))
    assert "财政全额补助" in page and "城乡居民基本医疗保险就医凭证" in page


def test_rare_character_name_is_drawn_with_a_real_glyph(world, django_capture_on_commit_callbacks):
    enroll(world, paid=True, name="𠮷田")

    data = job_pdf(print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL))

    assert "𠮷田" in pdf_pages(data)[0]
    font, outline = glyph_outline_size(data, "𠮷")
    assert "HanaMinB" in font
    assert outline > 0
    # The common characters stay in the main font.
    assert "WenQuanYi" in glyph_outline_size(data, "田")[0]


def test_class_print_contains_only_that_class(world, django_capture_on_commit_callbacks):
    enroll(world, name="甲班学生", class_name="甲班")
    enroll(world, name="乙班学生", class_name="乙班")

    pages = pdf_pages(job_pdf(print_job(world, django_capture_on_commit_callbacks, scope=Scope.CLASS, class_name="甲班")))

    assert len(pages) == 1 and "甲班学生" in pages[0]


def test_single_student_print(world, django_capture_on_commit_callbacks):
    one = enroll(world, name="单独打印")
    enroll(world, name="其他学生")

    pages = pdf_pages(job_pdf(print_job(world, django_capture_on_commit_callbacks, scope=Scope.STUDENT, student_id=one.student_id)))

    assert len(pages) == 1 and "单独打印" in pages[0]


def test_another_schools_student_cannot_be_printed(world):
    stranger = enroll(world, school=world.other_school)
    with pytest.raises(ValidationError):
        request_rights_records(
            actor=portal(world.coordinator), school=world.school, insurance_year=world.year,
            scope=Scope.STUDENT, student_id=stranger.student_id,
        )
    assert not Job.objects.filter(kind=Job.Kind.DOCUMENTS).exists()


def test_nothing_to_print_is_refused_with_a_reason(world):
    with pytest.raises(ValidationError, match="没有"):
        request_rights_records(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, scope=Scope.SCHOOL)


def test_running_the_task_twice_renders_once(world, django_capture_on_commit_callbacks):
    enroll(world)
    job = print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)
    name, finished = job.output_file.name, job.finished_at

    render_rights_records_job(job.pk)

    job.refresh_from_db()
    assert (job.output_file.name, job.finished_at) == (name, finished)


def test_coordinator_downloads_and_the_file_then_expires(world, client, django_capture_on_commit_callbacks):
    enroll(world)
    job = print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)
    login(client, world.coordinator)

    response = client.get(reverse("portal:documents_download", args=[job.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    job.refresh_from_db()
    assert job.expires_at <= timezone.now() + datetime.timedelta(hours=1)
    first_expiry = job.expires_at
    client.get(reverse("portal:documents_download", args=[job.pk]))
    job.refresh_from_db()
    assert job.expires_at == first_expiry  # a second download does not extend it

    storage, name = job.output_file.storage, job.output_file.name
    job.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    job.save(update_fields=["expires_at"])
    assert delete_expired_documents() == 1
    assert not storage.exists(name)
    assert client.get(reverse("portal:documents_download", args=[job.pk])).status_code == 410


def test_other_schools_coordinator_cannot_fetch_a_record(world, client, django_capture_on_commit_callbacks):
    enroll(world)
    job = print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)
    login(client, world.other_coordinator)

    for name in ("documents_download", "documents_job", "documents_job_status"):
        assert client.get(reverse(f"portal:{name}", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.expires_at > timezone.now() + datetime.timedelta(days=1)  # untouched by the failed attempt


def test_portal_print_of_another_schools_student_is_404(world, client):
    stranger = enroll(world, school=world.other_school)
    login(client, world.coordinator)

    response = client.post(reverse("portal:documents_generate"), {"scope": "student", "student": stranger.student_id})

    assert response.status_code == 404


def test_portal_print_page_lists_classes_and_starts_a_job(world, client, django_capture_on_commit_callbacks):
    enroll(world, paid=True, class_name="7班")
    login(client, world.coordinator)

    page = client.get(reverse("portal:documents"))
    assert page.status_code == 200 and "7班" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:documents_generate"), {"scope": "class", "class_name": "7班"})
    job = Job.objects.get(kind=Job.Kind.DOCUMENTS)
    assert response.status_code == 302 and response.url == reverse("portal:documents_job", args=[job.pk])
    status = client.get(reverse("portal:documents_job_status", args=[job.pk])).json()
    assert status["done"] and status["percent"] == 100 and status["download_url"]


def test_bureau_staff_are_not_coordinators_in_the_portal(world, client):
    login(client, world.district_staff)
    assert client.get(reverse("portal:documents")).status_code == 404


def test_portal_prints_one_student_found_by_identity_number(world, client, django_capture_on_commit_callbacks):
    one = enroll(world, name="按号码打印")
    stranger = enroll(world, school=world.other_school)
    login(client, world.coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:documents_generate"), {"scope": "student", "student": one.student.identity_number.lower()})
    job = Job.objects.get(kind=Job.Kind.DOCUMENTS)
    assert response.status_code == 302 and job.params["student_id"] == one.student_id
    (page,) = pdf_pages(job_pdf(job))
    assert "按号码打印" in page

    refused = client.post(reverse("portal:documents_generate"), {"scope": "student", "student": stranger.student.identity_number}, follow=True)
    assert "本校学生中没有该身份证号码" in refused.content.decode()
    assert Job.objects.filter(kind=Job.Kind.DOCUMENTS).count() == 1


def test_a_failed_rendering_is_shown_as_failed_without_a_file(world, client, monkeypatch, django_capture_on_commit_callbacks):
    enroll(world)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("coordinators.tasks.documents.render_rights_records", broken)
    job = print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)

    assert job.state == Job.State.FAILED and not job.output_file and "OSError" in job.error and "disk" not in job.error
    login(client, world.coordinator)
    assert "生成失败" in client.get(reverse("portal:documents_job", args=[job.pk])).content.decode()
    assert client.get(reverse("portal:documents_download", args=[job.pk])).status_code == 410


def test_the_job_sweeper_requeues_a_rendering_whose_worker_died(world):
    from enrollment.services.jobs import jobs_sweep

    enroll(world)
    job = request_rights_records(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, scope=Scope.SCHOOL)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, worker="gone:1", heartbeat_at=timezone.now() - datetime.timedelta(hours=3)
    )
    fresh = request_rights_records(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, scope=Scope.SCHOOL)
    Job.objects.filter(pk=fresh.pk).update(state=Job.State.RUNNING, worker="alive:1", heartbeat_at=timezone.now())

    summary = jobs_sweep()

    # Rendering only writes its own file, so it is safe to run again: queued and sent again
    # (without a broker the test runs it at once).
    assert job.pk in summary.requeued and job.pk in summary.resent
    assert Job.objects.get(pk=job.pk).worker != "gone:1"
    assert Job.objects.get(pk=fresh.pk).state == Job.State.RUNNING


def test_the_voucher_names_the_coverage_period_in_the_notices_words_after_the_dates(world, django_capture_on_commit_callbacks):
    # GZ 2(3): the 200 yuan covers the 2014 urban residents' year and the 2015 calendar year.
    world.year.coverage_description = "2014年城镇居民医保年度及2015年城乡居民医保年度"
    world.year.save()
    enroll(world, paid=True, name="王小明")
    (page,) = pdf_pages(job_pdf(print_job(world, django_capture_on_commit_callbacks, scope=Scope.SCHOOL)))
    text = "".join(page.split())
    start, end = world.year.coverage_start, world.year.coverage_end
    dates = f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日"
    assert f"{dates}（2014年城镇居民医保年度及2015年城乡居民医保年度）" in text
    voucher = text[text.index("城乡居民基本医疗保险就医凭证"):]
    assert "2014年城镇居民医保年度及2015年城乡居民医保年度" in voucher
