"""A coordinator imports students in a real browser: template, bad file, error report, fixed file, roster export."""

import io
import os
from pathlib import Path

import pytest
from django.db import connections
from openpyxl import load_workbook

from enrollment.models import Student
from tests import files
from tests.conftest import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "manual" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_media_handler(monkeypatch):
    # MEDIA_URL is None (uploads are private and served only through views), which the
    # live server's media handler cannot parse; it has nothing to serve anyway.
    from django.test.testcases import _MediaFilesHandler

    monkeypatch.setattr(_MediaFilesHandler, "_should_handle", lambda self, path: False)


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Chromium is not installed (make system-packages)")
    # Playwright runs an event loop in this thread; the test's own ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        yield page
        context.close()
        browser.close()
        # The test's own queries ran beside Playwright's event loop on a connection of their
        # own: closed here, or it outlives the test and blocks dropping the test database.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_coordinator_imports_fixes_and_exports_in_the_browser(live_server, world, browser_page, tmp_path):
    page = browser_page
    world.coordinator.set_password(PASSWORD)
    world.coordinator.save()
    console_errors = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_server.url}/login/")
    _shot(page, "login.png")
    page.fill("#id_username", "coord")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/")
    assert "越秀第一中学" in page.content()
    _shot(page, "home.png")

    page.click("nav >> text=导入")
    with page.expect_download() as download_info:
        page.click("#download-template")
    template = load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert template.sheetnames == ["学生名单", "填写说明"]
    _shot(page, "import.png")

    good = files.rows(8)
    bad = [list(r) for r in good]
    bad[2][4] = 20  # grade out of range
    bad[5][2] = "女" if bad[5][2] == "男" else "男"  # sex contradicts the number
    bad_path = tmp_path / "学生名单.xlsx"
    bad_path.write_bytes(files.xlsx(bad))
    page.set_input_files("input[name=file]", str(bad_path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-errors")
    assert page.locator("#job-progress").count() == 1
    assert page.locator("#import-errors tbody tr").count() == 2
    assert "年级20超出本校年级范围" in page.inner_text("#import-errors")
    assert "未导入任何学生" in page.inner_text("#job-error")
    _shot(page, "import-errors.png")
    assert Student.objects.count() == 0

    with page.expect_download() as download_info:
        page.click("#error-report")
    report = list(load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes())).active.values)
    assert [r[0] for r in report[1:]] == [4, 7]

    fixed_path = tmp_path / "学生名单-已改正.xlsx"
    fixed_path.write_bytes(files.xlsx(good))
    page.goto(f"{live_server.url}/import/")
    page.set_input_files("input[name=file]", str(fixed_path))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#result-created")
    assert page.inner_text("#result-created") == "8"
    assert page.get_attribute("#job-progress", "value") == "100"
    _shot(page, "import-done.png")

    page.click("nav >> text=学生名册")
    assert page.locator("#students tbody tr").count() == 8
    assert good[0][1] not in page.content()  # numbers are masked
    _shot(page, "students.png")

    with page.expect_download() as download_info:
        page.click("#export-roster")
    roster = list(load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes())).active.values)
    assert len(roster) == 9 and roster[1][1].startswith("*")

    page.click("nav >> text=参保名单/确认")
    assert "已核对名单" in page.content()
    _shot(page, "roster.png")
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_progress_bar_follows_a_running_import_and_shows_the_result(live_server, world, browser_page):
    from django.utils import timezone

    from enrollment.models import Job

    page = browser_page
    world.coordinator.set_password(PASSWORD)
    world.coordinator.save()
    job = Job.objects.create(kind=Job.Kind.STUDENT_IMPORT, school=world.school, insurance_year=world.year,
                             created_by=world.coordinator, input_name="名单.xlsx", state=Job.State.RUNNING, total=1000)
    page.goto(f"{live_server.url}/login/?next=/import/jobs/{job.pk}/")
    page.fill("#id_username", "coord")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_selector("#job-progress")
    assert page.get_attribute("#job-progress", "value") == "0"

    Job.objects.filter(pk=job.pk).update(progress=500)
    from playwright.sync_api import expect

    expect(page.locator("#job-percent")).to_have_text("50%", timeout=10000)
    assert page.get_attribute("#job-progress", "value") == "50"

    Job.objects.filter(pk=job.pk).update(
        progress=1000, state=Job.State.SUCCEEDED, finished_at=timezone.now(),
        result={"total": 1000, "created": 1000, "updated": 0, "unchanged": 0, "rejected_rows": 0, "errors": []},
    )
    page.wait_for_selector("#result-created")
    assert page.inner_text("#result-created") == "1000"
