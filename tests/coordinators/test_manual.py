"""The operation manual (R18): chapters of the yearly cycle, screenshots or placeholders, and the PDF."""

import io

import pytest
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from coordinators import manual
from tests.coordinators.documents_support import login

CYCLE = ["overview", "register", "import", "roster", "confirm", "payment", "cards", "documents", "changes"]


@pytest.fixture
def screenshots(tmp_path, monkeypatch):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    monkeypatch.setattr(manual, "SCREENSHOT_DIR", folder)
    return folder


def png(path, size=(320, 200)):
    Image.new("RGB", size, (40, 120, 200)).save(path, "PNG")


def test_manual_walks_through_the_yearly_cycle_in_order():
    assert [chapter.slug for chapter in manual.chapters()] == CYCLE
    assert manual.chapter("register").title.endswith("登记协管员信息")


def test_missing_screenshot_shows_a_placeholder(world, client, screenshots):
    login(client, world.coordinator)

    page = client.get(reverse("portal:manual_chapter", args=["import"])).content.decode()

    assert "导入学生名单" in page
    assert "manual-placeholder" in page and "尚未生成" in page and "<img" not in page


def test_generated_screenshot_is_shown_and_served(world, client, screenshots):
    png(screenshots / "import.png")
    login(client, world.coordinator)

    page = client.get(reverse("portal:manual_chapter", args=["import"])).content.decode()
    url = reverse("portal:manual_screenshot", args=["import.png"])

    assert f'src="{url}"' in page and "manual-placeholder" not in page
    image = client.get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_screenshot_view_serves_only_manual_screenshots(world, client, screenshots):
    login(client, world.coordinator)
    for name in ("..%2F01-overview.md", "import.PNG", "nope.png"):
        assert client.get(f"/manual/screenshots/{name}").status_code == 404


def test_manual_needs_a_login(client):
    assert client.get(reverse("portal:manual_chapter", args=["overview"])).status_code == 302


def test_manual_pdf_has_the_chapters_and_the_screenshots(world, client, screenshots):
    png(screenshots / "home.png")
    login(client, world.coordinator)

    response = client.get(reverse("portal:manual_pdf"))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "".join(page.extract_text() for page in reader.pages)
    for heading in ("一、概述与年度工作流程", "二、登记协管员信息", "五、确认缴费名单", "八、权益记录单、就医凭证与通知"):
        assert heading in text
    assert "尚未生成" in text  # the screenshots not generated here are placeholders
    images = [name for page in reader.pages for name in (page["/Resources"].get("/XObject") or {})]
    assert len(images) == 1
