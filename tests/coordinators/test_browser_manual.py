"""The operation manual's screenshots (R18) come from the demo data, by the command the README names.

The steps of ``coordinators.manual_screenshots`` are the only list of screenshots: the command takes them, and
every image a chapter cites must be one of them, so a fresh demo's manual has no placeholder.
"""

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from coordinators import manual, manual_screenshots
from tests.demo_live import committed

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_every_screenshot_the_manual_cites_is_taken_by_a_step():
    cited = manual_screenshots.cited_screenshots()
    assert cited, "the manual cites no screenshot"
    missing = cited - {step.filename for step in manual_screenshots.STEPS}
    assert not missing, f"add a Step to coordinators/manual_screenshots.py for {sorted(missing)}"


def test_the_command_takes_the_screenshots_from_the_demo_and_the_manual_then_shows_them(demo):
    pytest.importorskip("playwright.sync_api")
    if not Path(manual_screenshots.CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make system-packages)")
    for step in manual_screenshots.STEPS:
        (manual.SCREENSHOT_DIR / step.filename).unlink(missing_ok=True)
    out = io.StringIO()

    # On a connection of its own, as from a shell: its log-in sessions are committed for its server to read.
    committed(call_command, "manual_screenshots", stdout=out)

    assert f"已生成 {len(manual_screenshots.STEPS)} 张截图" in out.getvalue()
    for step in manual_screenshots.STEPS:
        assert (manual.SCREENSHOT_DIR / step.filename).stat().st_size > 5000, step.filename
    client = Client()
    client.force_login(get_user_model().objects.get(username="coord-gz1"), backend=manual_screenshots.LOGIN_BACKEND)
    for chapter in manual.chapters():
        html = client.get(reverse("portal:manual_chapter", args=[chapter.slug])).content.decode()
        assert "manual-placeholder" not in html and "尚未生成" not in html, chapter.slug
    image = client.get(reverse("portal:manual_screenshot", args=["home.png"]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
