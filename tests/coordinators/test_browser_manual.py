"""Screenshots of the real portal for the operation manual, taken with headless Chromium (R18).

The manual's images in ``docs/manual/screenshots`` are produced here, from the pages a coordinator sees,
so they follow the portal as it changes; the manual page then shows them instead of placeholders.
"""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from coordinators import manual
from coordinators.models import Notice
from coordinators.services.notices import publish_notice
from enrollment.services.common import Actor
from tests.coordinators.documents_support import enroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

PAGES = {
    "home.png": "portal:home",
    "register.png": "portal:profile",
    "import.png": "portal:import",
    "roster.png": "portal:roster",
    "documents.png": "portal:documents",
    "transfers.png": "portal:transfers",
}


@pytest.fixture(scope="session", autouse=True)
def _live_server_media_prefix():
    # The site serves no media (MEDIA_URL is None: uploads hold personal data), but the test live server
    # wraps itself in a media handler that needs a prefix; give it one no page uses. Autouse, so it is in
    # place before the session's live server starts.
    previous = django_settings.MEDIA_URL
    django_settings.MEDIA_URL = "/__no-media__/"
    yield
    django_settings.MEDIA_URL = previous


def session_cookie(user, live_server_url: str) -> dict:
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    return {"name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "url": live_server_url}


def test_manual_screenshots_are_taken_from_the_live_portal(world, live_server, settings):
    sync_api = pytest.importorskip("playwright.sync_api")
    settings.ALLOWED_HOSTS = ["*"]
    enrolled = [
        enroll(world, name=name, class_name=class_name, paid=class_name == "1班")
        for name, class_name in (("陈一", "1班"), ("林二", "1班"), ("黄三", "2班"))
    ]
    publish_notice(actor=Actor(user=world.district_staff, source="admin"), kind=Notice.Kind.TRAINING,
                   title="越秀区学生医保协管员业务培训", body="9月5日上午9时，越秀区梅东路28号。", office=world.office)
    cookie = session_cookie(world.coordinator, live_server.url)
    lookup_number = enrolled[0].student.identity_number
    manual.SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    # Playwright's sync API runs an event loop in this thread: all database work is done above.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            take_screenshots(browser, live_server.url, cookie, lookup_number=lookup_number)
        finally:
            browser.close()


def take_screenshots(browser, base_url: str, cookie: dict, *, lookup_number: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.add_cookies([cookie])
    page = context.new_page()
    for filename, url_name in PAGES.items():
        target = manual.SCREENSHOT_DIR / filename
        target.unlink(missing_ok=True)
        response = page.goto(base_url + reverse(url_name))
        assert response.status == 200, url_name
        assert "/login/" not in page.url
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 5000

    # The coverage lookup with its answer: a paid student of the school, found by the full number.
    target = manual.SCREENSHOT_DIR / "coverage.png"
    target.unlink(missing_ok=True)
    page.goto(base_url + reverse("portal:coverage"))
    page.fill("#coverage-number", lookup_number)
    page.click("#coverage-form button[type=submit]")
    page.wait_for_selector("#coverage-result")
    assert "已缴费" in page.inner_text("#coverage-result")
    page.screenshot(path=str(target), full_page=True)

    # The manual now shows the screenshots instead of placeholders.
    response = page.goto(base_url + reverse("portal:manual_chapter", args=["import"]))
    assert response.status == 200
    image = page.locator("img.manual-screenshot")
    assert image.count() == 1
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) > 0
    assert page.locator(".manual-placeholder").count() == 0
    context.close()
