"""The demo data in the test database, served by pytest-django's live server, with one headless Chromium.

Seeding the demo (five schools, 300 students, rosters) takes seconds, so a module seeds it once and its tests
share it (the fixtures are registered in tests/conftest.py). The data is committed
(the live server reads it from its own connections) and flushed when the module ends. The tests are marked
``django_db`` (plain): their own queries run in a transaction the live server does not see, so what a test
needs committed is done in a thread of its own (``committed``) or through the browser. Tests that change the
data keep to their own school or put it back.
"""

import datetime
import io
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test.utils import override_settings
from django.utils import timezone

PASSWORD = "demo-insure-2468"

__all__ = ["browser", "committed", "demo", "demo_server", "open_as", "situations"]

GZ1, GZ2, GZ3 = "DEMO-GZ-YX-001", "DEMO-GZ-HZ-001", "DEMO-GZ-YX-V01"


def committed(function, *args, **kwargs):
    """Run ``function`` on a connection of its own, committed when it returns (the live server sees it)."""
    from django.db import connections

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo's rows, committed; database access stays open for the module (the live server needs it)."""
    from bureau.management.commands.seed_demo import refresh_rosters, seed_demo, seed_year_changes

    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast:
        result = seed_demo(password=PASSWORD, today=timezone.localdate())
        refresh_rosters(result["schools"], io.StringIO())
        seed_year_changes(io.StringIO())
        # Playwright's sync API runs an event loop in the test's thread; the tests' own queries stay synchronous.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        try:
            yield result
        finally:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            from django.db import connections

            call_command("flush", interactive=False, verbosity=0)
            connections.close_all()


@pytest.fixture(scope="module")
def demo_server(demo):
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    server._live_server_modified_settings.enable()
    yield server.url
    server._live_server_modified_settings.disable()
    server.stop()


@pytest.fixture(scope="module")
def browser(demo_server):
    from coordinators import manual_screenshots

    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(manual_screenshots.CHROMIUM):
        pytest.skip("Chromium is not installed (make system-packages)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=manual_screenshots.CHROMIUM, args=manual_screenshots.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_as(browser, demo_server):
    """``open_as(username or None, path)``: a fresh browser context, logged in as that demo account, on the page."""
    from coordinators import manual_screenshots

    contexts = []

    def open_page(username, path="/"):
        context = browser.new_context(viewport=manual_screenshots.VIEWPORT, locale="zh-CN")
        contexts.append(context)
        if username:
            context.add_cookies([committed(manual_screenshots.session_cookie, username, demo_server)])
        page = context.new_page()
        page.goto(demo_server + path)
        return page

    yield open_page
    for context in contexts:
        context.close()


def add_situations() -> dict:
    """What the demo lacks to show every problem a user can meet; committed by the caller's module fixture."""
    from django.contrib.auth import get_user_model

    from billing.models import DebitInstruction
    from billing.services import instructions_create
    from coordinators.models import Notice
    from coordinators.services.notices import publish_notice
    from enrollment.models import (
        ChargeCorrection,
        Enrollment,
        Exemption,
        ExemptionCategory,
        ExemptionSource,
        InsuranceYear,
        Roster,
        School,
        SchoolAccount,
        Student,
    )
    from enrollment.selectors import suspected_graduates
    from enrollment.services.common import Actor
    from enrollment.services.rosters import roster_confirm
    from graduates.services import deregistration_runs_per_city
    from tests.factories import identity_number
    from tests.graduates.conftest import receive

    schools = {s.code: s for s in School.objects.filter(code__in=[GZ1, GZ2, GZ3]).select_related("office")}
    gz_year = InsuranceYear.objects.filter(city__code="guangzhou").order_by("-window_start").first()

    # 海珠: its debit account lapsed; a graduate sent by the school-roll system matches nobody.
    SchoolAccount.objects.filter(school=schools[GZ2]).update(active=False)
    receive([{"identity_number": identity_number(birth=datetime.date(2012, 3, 1)), "name": "查无此人",
              "school_code": GZ2, "graduation_date": datetime.date.today().isoformat(), "class_name": "六年级1班"}])
    deregistration_runs_per_city(triggered_by="test")

    # 职校: roster confirmed (its final-year students kept as still at school), charged, one debit failed.
    roster = Roster.objects.get(school=schools[GZ3], insurance_year=gz_year)
    coordinator = Actor(user=get_user_model().objects.get(username="coord-gz3"), source="portal")
    roster_confirm(actor=coordinator, roster=roster, checked=True,
                   suspected_acknowledged=suspected_graduates(roster=roster).count())
    instructions_create(insurance_year=gz_year)
    DebitInstruction.objects.filter(school=schools[GZ3]).update(tries=1, last_failure="余额不足")
    # A higher final standard was published after the charge: the difference is still being debited.
    ChargeCorrection.objects.create(
        enrollment=Enrollment.objects.filter(school=schools[GZ3], insurance_year=gz_year).order_by("pk").first(),
        amount=Decimal("50.00"), reason=ChargeCorrection.Reason.FEE_STANDARD,
    )

    # 苏州示例大学: civil affairs lists a non-local student as 低保; only a stamped letter would exempt them.
    non_local = Student.objects.filter(school__code="DEMO-SZ-U01", hukou_local=False).order_by("-pk").first()
    Exemption.objects.create(identity_number=non_local.identity_number, name=non_local.name,
                             category=ExemptionCategory.objects.get(city__code="suzhou", code="minimum_living"),
                             source=ExemptionSource.CIVIL_AFFAIRS, valid_from=datetime.date(2019, 1, 1))

    staff = Actor(user=get_user_model().objects.get(username="staff-yuexiu"), source="admin")
    notice = publish_notice(actor=staff, kind=Notice.Kind.TRAINING, title="越秀区协管员业务培训",
                            body="9月5日上午9时，越秀区梅东路28号。", office=schools[GZ1].office)
    return {"notice": notice.pk, "gz_year": gz_year.pk}


@pytest.fixture(scope="module")
def situations(demo):
    """The demo plus ``add_situations()`` (see its comments for which school shows what)."""
    return add_situations()
