"""A new user's whole cycle of both cities in a real browser against `make demo`'s own stack (embedded servers,
worker, beat).

Guangzhou collects by bank debit: two coordinators confirm their rosters (one
after importing students), city staff generate the debit batches on the demo's
worker, download each bank's file and upload the bank's answer to it (one
bank's debits fail). Suzhou collects through the tax department: a coordinator
confirms, city staff generate the declarations, record the school's payment
and import the tax e-receipts. Last, Guangzhou's staff upload the school-roll
system's graduate feed and run the deregistration, which the worker runs.
"""

import datetime
import io
import os
import re
from decimal import Decimal
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


def _download(page, link) -> tuple[str, bytes]:
    """Click a download link; (file name, bytes) as the browser saved them."""
    with page.expect_download() as info:
        link.click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


def _bank_answer(name: str, content: bytes, *, fail: bool) -> bytes:
    """The bank's result file for a debit file it received: every debit done, or every one refused for lack of funds."""
    from billing.formats import FORMATS, FailureReason

    bank_format = next(cls() for cls in FORMATS.values() if name.endswith(f".{cls.extension}"))
    reference, lines = bank_format.read_batch(content)
    reason = FailureReason.INSUFFICIENT_FUNDS if fail else ""
    return bank_format.render_result(reference, [(ref, amount, not fail, reason) for ref, amount in lines])


def _tax_receipts(declaration: bytes) -> tuple[bytes, int]:
    """The tax department's e-receipt list for a declaration workbook: one receipt per declared student."""
    from openpyxl import Workbook
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_filelike(io.BytesIO(declaration)).get_sheet_by_index(0).to_python()
    header = [str(cell) for cell in rows[0]]
    number_at, amount_at = header.index("证件号码"), header.index("缴费金额")
    declared = [row for row in rows[1:] if str(row[0]).strip() not in ("", "合计")]
    book = Workbook()
    sheet = book.active
    sheet.append(["证件号码", "电子票据号", "金额"])
    for serial, row in enumerate(declared, start=1):
        sheet.append([str(row[number_at]), f"3201260{serial:07d}", f"{Decimal(str(row[amount_at])):.2f}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), len(declared)


def _last_graduation(today: datetime.date) -> datetime.date:
    july = datetime.date(today.year, 7, 1)
    return july if july <= today else datetime.date(today.year - 1, 7, 1)


def _wait_for_job(page, base: str):
    """On the bureau's job page the admin sent us to: wait until the demo's worker has finished the job."""
    from playwright.sync_api import expect

    page.wait_for_url(f"{base}/bureau/jobs/*/", timeout=30_000)
    # Auto-refreshed until the worker has finished the job.
    expect(page.locator("#job")).to_have_attribute("data-state", "succeeded", timeout=180_000)


def _count(page, label: str) -> int:
    return int(page.locator(f'#job tr:has(th:text-is("{label}")) td').inner_text())


def _confirm_roster(page) -> None:
    page.check("#id_checked")
    # The demo's final-year students are suspected graduates: this roster keeps them, as still at school.
    if page.locator("#id_suspected_acknowledged").count():
        page.check("#id_suspected_acknowledged")
    page.click("#confirm-form button[type=submit]")


def test_a_new_user_completes_the_cycle_of_both_cities_in_the_browser_on_the_demos_worker(demo, page, tmp_path):
    from playwright.sync_api import expect

    base, _ = demo

    # The coordinator of a Guangzhou secondary school (grades 7 to 12) adds five students from a spreadsheet,
    # two of them in the final year.
    _log_in(page, base, "coord-gz1")
    expect(page).to_have_url(f"{base}/")
    page.click("nav >> text=导入")
    newcomers = files.rows(3, start=9001, grade=8, class_name="8班")
    leavers = files.rows(2, start=9101, grade=12, class_name="12班", birth=datetime.date(2008, 4, 1))
    upload = Path(tmp_path / "新生名单.xlsx")
    upload.write_bytes(files.xlsx(newcomers + leavers))
    page.set_input_files("input[name=file]", str(upload))
    page.click("#import-form button[type=submit]")
    # The page follows the job the worker runs, until its result shows.
    expect(page.locator("#result-created")).to_have_text("5", timeout=120_000)

    page.click("nav >> text=参保名单/确认")
    _confirm_roster(page)
    expect(page.locator("body")).to_contain_text("名单已确认", timeout=30_000)

    # A primary school of the city (another bank) confirms its roster as the demo built it.
    _log_in(page, base, "coord-gz2")
    page.click("nav >> text=参保名单/确认")
    _confirm_roster(page)
    expect(page.locator("body")).to_contain_text("名单已确认", timeout=30_000)

    # City staff start the debit batch generation from the admin site and land on the job's page.
    _log_in(page, base, "staff-gz")
    expect(page).to_have_url(f"{base}/bureau/")
    page.goto(f"{base}/admin/billing/debitbatch/generate/")
    page.select_option("select[name=insurance_year]", index=1)
    page.click("text=开始生成")
    _wait_for_job(page, base)
    # Both confirmed rosters were charged: one instruction each, in a batch for each school's bank.
    assert _count(page, "批次数") == 2 and _count(page, "新建扣款指令") == 2

    # Each bank gets its file and answers it: the first bank debited every account, the second none (no funds).
    page.click("text=查看扣款批次")
    batches = page.locator("#result_list tbody tr")
    expect(batches).to_have_count(2)
    change_pages = [batches.nth(i).locator("th a").get_attribute("href") for i in range(2)]
    answers = [_bank_answer(*_download(page, batches.nth(i).locator("td.field-download a")), fail=i == 1) for i in range(2)]
    for change_page, answer, shown in zip(change_pages, answers, ("成功1笔，失败0笔", "成功0笔，失败1笔"), strict=True):
        page.goto(base + change_page)
        page.click("text=导入银行扣款结果")
        result = tmp_path / "bank-result.txt"
        result.write_bytes(answer)
        page.set_input_files("input[name=file]", str(result))
        page.click("input[type=submit][value=导入]")
        expect(page.locator("ul.messagelist")).to_contain_text(f"结果已导入：{shown}")
    page.goto(f"{base}/admin/billing/debitbatch/")
    paid = [int(t) for t in page.locator("#result_list td.field-succeeded_count").all_inner_texts()]
    failed = [int(t) for t in page.locator("#result_list td.field-failed_count").all_inner_texts()]
    assert (sum(paid), sum(failed)) == (1, 1)
    expect(page.locator("#result_list tbody")).not_to_contain_text("文件已生成")  # both results applied

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
    _wait_for_job(page, base)
    # This school's roster, and the demo's vocational college, whose roster the demo data confirmed already.
    assert _count(page, "申报数") == 2

    # The school pays what was declared (staff record it); the tax department's e-receipts then come back.
    page.click("text=查看税务申报")
    declaration = page.locator("#result_list tbody tr").first
    _name, workbook = _download(page, declaration.locator("td.field-download a"))
    receipts, declared = _tax_receipts(workbook)
    assert declared >= 1
    declaration.locator("input.action-select").check()
    page.select_option("select[name=action]", "paid_by_transfer")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist")).to_contain_text("已登记缴款")
    page.click("text=导入电子票据")
    page.select_option("select[name=insurance_year]", index=1)
    receipt_file = tmp_path / "电子票据.xlsx"
    receipt_file.write_bytes(receipts)
    page.set_input_files("input[name=file]", str(receipt_file))
    page.click("input[type=submit][value=导入]")
    expect(page.locator("ul.messagelist")).to_contain_text(f"已导入{declared}张电子票据")
    row = page.locator("#result_list tbody tr").first
    expect(row.locator("td.field-state")).to_have_text("已出具票据")
    expect(row.locator("td.field-receipted_count")).to_have_text(str(declared))

    # The school-roll system reports Guangzhou's two leavers as graduated, and a number no school registered.
    # City staff upload the feed and run the deregistration; the demo's worker runs it.
    _log_in(page, base, "staff-gz")
    page.goto(f"{base}/admin/graduates/graduatefeed/")
    page.click("text=上传毕业生数据")
    graduated = _last_graduation(datetime.date.today()).isoformat()
    stranger = files.student_row(9201, grade=12, birth=datetime.date(2008, 4, 1))
    feed = [[row[1], row[0], "DEMO-GZ-YX-001", graduated, "12班"] for row in (*leavers, stranger)]
    feed_file = tmp_path / "毕业生.xlsx"
    feed_file.write_bytes(files.xlsx(feed, header=["身份证号码", "姓名", "学校代码", "毕业日期", "班级"]))
    page.set_input_files("input[name=upload]", str(feed_file))
    page.click("input[type=submit][value=上传]")
    expect(page.locator("ul.messagelist")).to_contain_text("3条记录")
    page.click("text=立即运行停保处理")
    _wait_for_job(page, base)
    # Both leavers are stopped (their roster was already charged: a refund follows); the stranger waits for staff.
    assert (_count(page, "毕业生记录"), _count(page, "匹配"), _count(page, "已停保"), _count(page, "待处理")) == (3, 2, 2, 1)
    page.click("text=查看停保运行记录")
    expect(page.locator("#result_list tbody tr").first.locator("td.field-stopped")).to_have_text("2")

    worker_log = (tmp_path / "var" / "log" / "worker.log").read_text()
    for task in ("billing.tasks.generate_debit_batches", "billing.tasks.generate_declarations",
                 "graduates.tasks.deregistration_job"):
        assert re.search(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", worker_log), worker_log[-3000:]
