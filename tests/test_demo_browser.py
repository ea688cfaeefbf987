"""A new user's first cycle in a real browser against `make demo`'s own stack (embedded servers, worker, beat).

A Guangzhou coordinator imports students and confirms the roster; city staff
generate the debit batch and watch the job, run by the demo's worker, finish;
then the same for Suzhou's tax declarations.
"""

import os
import re
from pathlib import Path

import pytest

from tests import demo_stack, files

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.worker]


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Chromium is not installed (make system-packages)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def demo(tmp_path):
    launcher, base, output = demo_stack.start(tmp_path)
    yield base, tmp_path
    demo_stack.stop(launcher, tmp_path)


def _log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", demo_stack.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


def _confirm_roster(page) -> None:
    page.check("#id_checked")
    # The demo's final-year students are suspected graduates: this roster keeps them, as still at school.
    if page.locator("#id_suspected_acknowledged").count():
        page.check("#id_suspected_acknowledged")
    page.click("#confirm-form button[type=submit]")


def test_coordinators_confirm_then_staff_generate_the_debit_batch_and_the_declarations_on_the_worker(demo, page, tmp_path):
    from playwright.sync_api import expect

    base, _ = demo

    # The coordinator of a Guangzhou secondary school (grades 7 to 12) adds three students from a spreadsheet.
    _log_in(page, base, "coord-gz1")
    expect(page).to_have_url(f"{base}/")
    page.click("nav >> text=导入")
    upload = Path(tmp_path / "新生名单.xlsx")
    upload.write_bytes(files.xlsx(files.rows(3, start=9001, grade=8, class_name="8班")))
    page.set_input_files("input[name=file]", str(upload))
    page.click("#import-form button[type=submit]")
    # The page follows the job the worker runs, until its result shows.
    expect(page.locator("#result-created")).to_have_text("3", timeout=120_000)

    page.click("nav >> text=参保名单/确认")
    _confirm_roster(page)
    expect(page.locator("body")).to_contain_text("名单已确认", timeout=30_000)

    # City staff start the debit batch generation from the admin site and land on the job's page.
    _log_in(page, base, "staff-gz")
    expect(page).to_have_url(f"{base}/bureau/")
    page.goto(f"{base}/admin/billing/debitbatch/generate/")
    page.select_option("select[name=insurance_year]", index=1)
    page.click("text=开始生成")
    page.wait_for_url(f"{base}/bureau/jobs/*/", timeout=30_000)
    # Auto-refreshed until the worker has finished the job.
    expect(page.locator("#job")).to_have_attribute("data-state", "succeeded", timeout=180_000)

    # The confirmed roster was charged: one new instruction at least, in a batch for its bank.
    assert int(page.locator('#job tr:has(th:text-is("批次数")) td').inner_text()) >= 1
    assert int(page.locator('#job tr:has(th:text-is("新建扣款指令")) td').inner_text()) >= 1
    page.goto(f"{base}/admin/billing/debitbatch/")
    assert page.locator("#result_list tbody tr").count() >= 1

    # Suzhou collects through the tax department: a university coordinator confirms the roster the demo built,
    # city staff generate the tax declarations.
    _log_in(page, base, "coord-sz1")
    page.click("nav >> text=参保名单/确认")
    _confirm_roster(page)
    expect(page.locator("body")).to_contain_text("名单已确认", timeout=30_000)

    _log_in(page, base, "staff-sz")
    expect(page).to_have_url(f"{base}/bureau/")
    page.goto(f"{base}/admin/billing/declaration/generate/")
    page.select_option("select[name=insurance_year]", index=1)
    page.click("text=开始生成")
    page.wait_for_url(f"{base}/bureau/jobs/*/", timeout=30_000)
    expect(page.locator("#job")).to_have_attribute("data-state", "succeeded", timeout=180_000)
    assert int(page.locator('#job tr:has(th:text-is("申报数")) td').inner_text()) >= 1

    worker_log = (tmp_path / "var" / "log" / "worker.log").read_text()
    for task in ("generate_debit_batches", "generate_declarations"):
        assert re.search(rf"Task billing\.tasks\.{task}\[[^\]]+\] succeeded", worker_log), worker_log[-3000:]
