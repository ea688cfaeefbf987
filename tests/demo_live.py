"""The demo data in the test database, served by pytest-django's live server, with one headless Chromium.

Seeding the demo (five schools, 300 students, rosters) takes seconds, so a module seeds it once and its tests
share it (the fixtures are registered in tests/conftest.py). The data is committed
(the live server reads it from its own connections) and flushed when the module ends. The tests are marked
``django_db`` (plain): their own queries run in a transaction the live server does not see, so what a test
needs committed is done in a thread of its own (``committed``) or through the browser. Tests that change the
data keep to their own school or put it back.
"""

import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.test.utils import override_settings
from django.utils import timezone

PASSWORD = "demo-insure-2468"

__all__ = ["browser", "committed", "demo", "demo_server", "open_as"]


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
    from bureau.management.commands.seed_demo import refresh_rosters, seed_demo

    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast:
        result = seed_demo(password=PASSWORD, today=timezone.localdate())
        refresh_rosters(result["schools"], io.StringIO())
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
