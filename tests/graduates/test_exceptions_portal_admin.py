import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from graduates.models import DeregistrationRun, GraduateFeed, GraduateRecord
from graduates.selectors import exceptions_for_school
from graduates.services import deregistration_run
from tests.factories import StudentFactory, identity_number, login
from tests.graduates.conftest import csv_bytes, enrolled_student, receive, record

MODEL_BACKEND = "enrollment.auth.MembershipBackend"




@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def exceptions(world, next_year):
    """One name mismatch at the school and one unknown number at the other school."""
    mine = StudentFactory(school=world.school, name="张三")
    receive(
        [
            record(mine, name="张珊"),
            {**record(mine), "identity_number": identity_number(), "name": "查无此人", "school_code": world.other_school.code},
        ]
    )
    deregistration_run(triggered_by="test", collect_inbox=False)
    return GraduateRecord.objects.get(name="张珊"), GraduateRecord.objects.get(name="查无此人")


def test_selector_lists_only_the_schools_own_exceptions(world, exceptions):
    mine, theirs = exceptions
    assert list(exceptions_for_school(school=world.school)) == [mine]
    assert list(exceptions_for_school(school=world.other_school)) == [theirs]


def test_coordinator_sees_the_schools_exceptions_with_masked_numbers(client, world, exceptions):
    mine, theirs = exceptions
    login(client, world.coordinator)
    response = client.get(f"/graduates/schools/{world.school.pk}/exceptions/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "张珊" in page and "姓名不一致" in page
    assert mine.identity_number not in page and mine.identity_number[-4:] in page
    assert "查无此人" not in page
    assert client.get("/graduates/exceptions/")["Location"].endswith(f"/graduates/schools/{world.school.pk}/exceptions/")


@pytest.mark.parametrize("persona", ["other_coordinator", "district_staff", "city_staff"])
def test_nobody_but_the_schools_coordinator_opens_its_exceptions_page(client, world, exceptions, persona):
    login(client, getattr(world, persona))
    assert client.get(f"/graduates/schools/{world.school.pk}/exceptions/").status_code == 404


def test_other_coordinator_sees_only_their_own_schools_exceptions(client, world, exceptions):
    login(client, world.other_coordinator)
    page = client.get(f"/graduates/schools/{world.other_school.pk}/exceptions/").content.decode()
    assert "查无此人" in page and "张珊" not in page


def test_admin_lists_exceptions_scoped_by_district(client, world, exceptions):
    login(client, world.district_staff)
    page = client.get("/admin/graduates/graduaterecord/").content.decode()
    assert "张珊" in page and "查无此人" not in page
    _mine, theirs = exceptions
    assert client.get(f"/admin/graduates/graduaterecord/{theirs.pk}/change/").status_code in (302, 404)


def test_coordinator_cannot_open_the_graduates_admin(client, world, exceptions):
    login(client, world.coordinator)
    assert client.get("/admin/graduates/graduaterecord/").status_code == 302


def test_district_staff_cannot_upload_feeds_or_start_a_run(client, world):
    # A feed stops graduates of every school of the city, beyond one district's reach.
    login(client, world.district_staff)
    good = csv_bytes([(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "")])
    response = client.post(
        "/admin/graduates/graduatefeed/upload/", {"source": "school_roll", "upload": SimpleUploadedFile("good.csv", good)}
    )
    assert response.status_code == 403
    assert client.post("/admin/graduates/graduatefeed/run/").status_code == 403
    assert not GraduateFeed.objects.exists() and not DeregistrationRun.objects.exists()


def test_city_staff_upload_a_feed_in_the_admin_and_see_a_refusal_report(client, world):
    login(client, world.city_staff)
    bad = csv_bytes([("123", "张三", "GZ-YX-001", "2026-06-30", "")])
    response = client.post(
        "/admin/graduates/graduatefeed/upload/", {"source": "school_roll", "upload": SimpleUploadedFile("bad.csv", bad)}
    )
    assert response.status_code == 200
    assert "身份证号码应为18位" in response.content.decode()
    assert not GraduateFeed.objects.exists()
    good = csv_bytes([(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "")])
    response = client.post(
        "/admin/graduates/graduatefeed/upload/", {"source": "school_roll", "upload": SimpleUploadedFile("good.csv", good)}
    )
    assert response.status_code == 302
    feed = GraduateFeed.objects.get()
    assert (feed.received_via, feed.received_by) == ("admin", world.city_staff)


def test_staff_run_the_job_on_demand_from_the_admin(client, world, next_year, django_capture_on_commit_callbacks):
    student, enrollment = enrolled_student(world.school, next_year)
    receive([record(student)])
    login(client, world.city_staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/graduates/graduatefeed/run/")
    run = DeregistrationRun.objects.get()
    assert run.triggered_by == "admin:staff-city" and run.stopped == 1
    # Staff land on the run's job page, which follows it and then shows what it did, in words.
    assert response.status_code == 302 and response["Location"].startswith("/bureau/jobs/")
    page = client.get(response["Location"]).content.decode()
    assert "已提交停保处理" in page
    counts = dict(re.findall(r"<tr><th>([^<]+)</th><td>(\d+)</td></tr>", page))
    assert counts == {"处理数据批数": "1", "毕业生记录": "1", "匹配": "1", "已停保": "1", "待处理": "0"}


def test_shell_command_runs_the_job(world, next_year, capsys):
    student, enrollment = enrolled_student(world.school, next_year)
    receive([record(student)])
    call_command("run_deregistration")
    assert "1 stopped" in capsys.readouterr().out
    assert DeregistrationRun.objects.get().triggered_by == "shell"


def test_nightly_job_is_scheduled_at_half_past_two_shanghai_time(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    # The data migration's step again (tests that flush tables remove its row): it must not add a second task.
    migration = importlib.import_module("graduates.migrations.0002_nightly_deregistration_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(task="graduates.tasks.nightly_deregistration")
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("30", "2", "Asia/Shanghai")


def test_nightly_task_reads_the_inbox_and_processes_it(world, next_year, settings, django_capture_on_commit_callbacks):
    from graduates.tasks import nightly_deregistration

    student, enrollment = enrolled_student(world.school, next_year)
    inbox = settings.GRADUATE_FEED_INBOX
    inbox.mkdir(parents=True)
    (inbox / "school_roll_0701.csv").write_bytes(
        csv_bytes([(student.identity_number, student.name, world.school.code, record(student)["graduation_date"], "")])
    )
    with django_capture_on_commit_callbacks(execute=True):
        nightly_deregistration.delay()
    run = DeregistrationRun.objects.get()
    assert (run.triggered_by, run.stopped) == ("nightly", 1)
    assert (inbox / "done" / "school_roll_0701.csv").exists()
