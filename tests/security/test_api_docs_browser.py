"""The API documentation works in a real browser under the Content-Security-Policy."""

import pytest
from django.conf import settings as django_settings

pytestmark = [pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="session", autouse=True)
def _live_server_media_prefix():
    # The live server wraps itself in a media handler that needs a prefix; the site serves no media.
    previous = django_settings.MEDIA_URL
    django_settings.MEDIA_URL = "/__no-media__/"
    yield
    django_settings.MEDIA_URL = previous


def test_swagger_ui_renders_the_operations_without_any_csp_violation(live_server, settings):
    sync_api = pytest.importorskip("playwright.sync_api")
    settings.ALLOWED_HOSTS = ["*"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            messages = []
            page.on("console", lambda message: messages.append(message.text))
            response = page.goto(live_server.url + "/api/docs/")
            assert response.status == 200
            page.wait_for_selector(".opblock", timeout=20_000)
            operations = page.locator(".opblock").count()
        finally:
            browser.close()
    assert operations > 5
    assert not [m for m in messages if "Content Security Policy" in m]
