"""Issue 20's usability round, item by item, in headless Chromium against the demo data.

Each test walks what a coordinator or bureau clerk stumbled on and asserts what they now see. The demo is
seeded once for the module (tests/demo_live.py); ``situations`` adds, committed, what the demo lacks for an item
(a failed debit, a school without an account, a graduate the nightly run could not stop, a notice). Each test
keeps to its own school or account:

- 越秀区示例第一中学 (coord-gz1): student edit, suspected graduates, profile change log, notices, identity errors
- 海珠区示例实验小学 (coord-gz2): no debit account, an unmatched graduate
- 越秀区示例职业技术学校 (coord-gz3): roster confirmed, one debit failed; its account locks out at the end
- 苏州示例大学 (coord-sz1): a non-local student on the 低保 list, waiting for a stamped letter
"""

import re

import pytest
from django.urls import reverse

from tests.demo_live import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

def _log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


# 1 -------------------------------------------------------------------------------------------------------------
def test_1_a_student_edit_saves_without_retyping_the_birth_date(open_as, demo_server):
    page = open_as("coord-gz1", "/students/")
    page.locator("#students tbody tr").first.locator("text=修改").click()
    birth = page.input_value("#id_birth_date")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", birth), birth

    page.fill("#id_class_name", "十二年级九班")
    page.click("form.card.form button[type=submit]")

    page.wait_for_url(re.compile(r"/students/(\?.*)?$"))
    assert "十二年级九班" in page.inner_text("#students")


# 2 -------------------------------------------------------------------------------------------------------------
def test_2_removing_a_graduate_asks_why_lists_them_undoably_and_confirming_names_the_rest(open_as):
    page = open_as("coord-gz1", "/roster/?list=suspected")
    rows = page.locator("#suspected-graduates tbody tr")
    suspects = rows.count()
    assert suspects > 1
    name = rows.first.locator("td").first.inner_text()
    rows.first.locator("text=剔除…").click()

    assert name in page.inner_text("main") and "确认剔除" in page.content()
    page.fill("textarea[name=reason], input[name=reason]", "2026年6月已毕业")
    page.click("button:has-text('确认剔除')")

    page.wait_for_url(re.compile(r"/roster/"))
    removed = page.locator("#removed")
    assert name in removed.inner_text() and "2026年6月已毕业" in removed.inner_text()
    removed.locator("tr", has_text=name).locator("button:has-text('恢复')").click()
    page.wait_for_load_state()
    assert page.locator("#removed").count() == 0

    page.check("#id_checked")
    page.click("#confirm-form button[type=submit]")
    assert f"仍有{suspects}名疑似毕业生" in page.inner_text("main")
    assert "名单已确认" not in page.inner_text("main")


# 3 -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("username", "generate", "count_label"), [
    ("staff-gz", "/admin/billing/debitbatch/generate/", "批次数"),
    ("staff-sz", "/admin/billing/declaration/generate/", "申报数"),
])
def test_3_starting_a_debit_batch_or_declaration_lands_on_its_job_page_with_the_result(
    open_as, demo_server, situations, username, generate, count_label
):
    page = open_as(username, generate)
    page.select_option("select[name=insurance_year]", index=1)
    page.click("text=开始生成")

    page.wait_for_url(re.compile(r"/bureau/jobs/\d+/$"))
    job = page.locator("#job")
    job.wait_for()
    page.wait_for_function("document.querySelector('#job').dataset.state === 'succeeded'", timeout=30_000)
    assert "不存在" not in page.inner_text("body")
    assert page.locator(f'#job tr:has(th:text-is("{count_label}")) td').count() == 1
    assert page.locator("#job a.button.primary").count() == 1


# 4 -------------------------------------------------------------------------------------------------------------
def test_4_the_front_page_sends_staff_to_the_bureau_and_coordinators_to_the_portal(open_as, demo_server):
    page = open_as(None, "/")
    assert "/login/" in page.url
    _log_in(page, demo_server, "staff-gz")
    assert page.url == f"{demo_server}/bureau/"
    page.goto(f"{demo_server}/")
    assert page.url == f"{demo_server}/bureau/" and "404" not in page.title()

    coordinator = open_as("coord-gz1", "/")
    assert coordinator.url == f"{demo_server}/"
    assert "越秀区示例第一中学" in coordinator.inner_text("header")


# 5 -------------------------------------------------------------------------------------------------------------
def test_5_every_portal_page_in_the_navigation_shows_the_navigation(open_as):
    page = open_as("coord-gz1", "/")
    labels = [text.strip() for text in page.locator("nav.nav a").all_inner_texts()]
    assert {"毕业生停保", "缴费与票据"} <= set(labels)
    for label in labels:
        page.locator("nav.nav a", has_text=label).first.click()
        page.wait_for_load_state()
        assert [t.strip() for t in page.locator("nav.nav a").all_inner_texts()] == labels, f"{label}: {page.url}"


# 6 -------------------------------------------------------------------------------------------------------------
def test_6_the_home_page_lists_each_problem_with_a_link_to_where_it_is_fixed(open_as, situations):
    haizhu = open_as("coord-gz2", "/")
    todos = haizhu.locator("#todos, section:has(h2:text-is('待办事项'))").first
    assert "学校尚无有效的扣费账户" in todos.inner_text()
    todos.locator("a", has_text="未能自动停保").click()
    haizhu.wait_for_load_state()
    assert "查无此人" in haizhu.inner_text("main")

    university = open_as("coord-sz1", "/")
    todos = university.locator("section:has(h2:text-is('待办事项'))").first
    todos.locator("a", has_text="盖章确认函").click()
    university.wait_for_load_state()
    assert university.url.endswith("/contacts/")

    vocational = open_as("coord-gz3", "/")
    todos = vocational.locator("section:has(h2:text-is('待办事项'))").first
    todos.locator("a", has_text="扣款失败").click()
    vocational.wait_for_load_state()
    assert "余额不足" in vocational.inner_text("main")


# 7 -------------------------------------------------------------------------------------------------------------
def test_7_an_impossible_birth_date_in_the_number_is_named_with_its_digits(open_as):
    page = open_as("coord-gz1", "/students/add/")
    page.fill("#id_name", "王小明")
    page.fill("#id_identity_number", "440104201413451234")
    page.click("form.card.form button[type=submit]")
    text = page.inner_text("main")
    assert "出生日期" in text and "“20141345”" in text and "不是有效日期" in text
    assert "出生日期或地区代码无效" not in text


# 8 -------------------------------------------------------------------------------------------------------------
def test_8_the_change_log_and_the_admin_read_in_chinese_with_grouped_amounts(open_as, demo_server, situations):
    page = open_as("coord-gz1", "/profile/")
    page.fill("#id_mobile", "13800009999")
    page.click("form.card.form button[type=submit]")
    page.goto(f"{demo_server}/profile/")
    history = page.inner_text("main").split("变更记录", 1)[1]
    assert "手机" in history and "13800009999" in history and "修改" in history
    assert not re.search(r"\b(mobile|email|update)\b", history)

    home = open_as("coord-gz1", "/")
    assert re.search(r"\d{1,3}(,\d{3})+\.\d{2}", home.inner_text("main"))

    admin = open_as("staff-yuexiu", "/admin/coordinators/coordinator/")
    assert admin.locator("#result_list").count() == 1, admin.inner_text("body")[:1500]
    assert "object (" not in admin.inner_text("#result_list")
    admin.locator("#result_list a", has_text="陈晓燕").click()
    history = admin.inner_text("#content")
    assert "object (" not in history and '{"' not in history
    assert re.search(r"手机号码：1380000\d{4} → 13800009999", history), history

    runs = open_as("staff-gz", "/admin/graduates/deregistrationrun/")
    assert not re.search(r"\d+\.\d{5,}", runs.inner_text("#result_list"))


# 9 -------------------------------------------------------------------------------------------------------------
def test_9_a_notice_opened_is_read_the_exemption_import_says_why_a_row_is_not_exempted_and_extra_debits_show_apart(
    open_as, demo_server, situations, tmp_path
):
    home = open_as("coord-gz1", "/")
    home.locator("text=越秀区协管员业务培训").first.click()
    home.wait_for_load_state()
    assert "梅东路28号" in home.inner_text("main")
    home.goto(f"{demo_server}/")
    assert "越秀区协管员业务培训" not in home.inner_text("section:has(h2:text-is('未读通知'))")

    from enrollment.models import Student

    non_local = Student.objects.filter(school__code="DEMO-SZ-U01", hukou_local=False).order_by("pk").first()
    upload = tmp_path / "低保名单.csv"
    upload.write_text(f"身份证号码,姓名,免缴类别,有效期起\n{non_local.identity_number},{non_local.name},低保人员,2019-01-01\n",
                      encoding="utf-8")
    admin = open_as("staff-sz", reverse("admin:enrollment_exemption_import"))
    admin.select_option("select[name=source]", "civil_affairs")
    admin.set_input_files("input[name=upload]", str(upload))
    admin.click("#content form [type=submit]")
    admin.wait_for_load_state()
    messages = admin.inner_text("ul.messagelist")
    assert "免缴名单已导入" in messages and "第2行" in messages and "非本市户籍" in messages, messages

    dashboard = open_as("staff-gz", "/bureau/")
    assert "补扣进行中" in dashboard.inner_text("main") and dashboard.inner_text("#in-progress") == "50.00"


# 10 ------------------------------------------------------------------------------------------------------------
def test_10_a_wrong_password_says_how_many_tries_are_left_and_the_lock_says_when_it_ends(open_as, demo_server):
    page = open_as(None, "/login/")
    _log_in(page, demo_server, "coord-gz3", "not-the-password-1")
    assert "还可尝试 4 次" in page.inner_text("body")
    for _attempt in range(4):
        _log_in(page, demo_server, "coord-gz3", "not-the-password-1")
    text = page.inner_text("body")
    assert "登录已被暂时锁定" in text and re.search(r"锁定将于 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 解除", text)
