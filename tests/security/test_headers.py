"""Security headers on portal, admin and API documentation pages."""

import re

import pytest
from django.urls import reverse

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)


def _portal_login_url():
    return reverse("portal:login")


def _assert_security_headers(response):
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_admin_login_page_sends_every_security_header_and_has_no_inline_script(client):
    response = client.get("/admin/login/", secure=True)
    assert response.status_code == 200
    _assert_security_headers(response)
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.django_db
def test_portal_login_page_sends_every_security_header_and_has_no_inline_script(client):
    response = client.get(_portal_login_url(), secure=True)
    assert response.status_code == 200
    _assert_security_headers(response)
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.django_db
def test_api_docs_load_their_start_up_script_from_the_site_not_inline(client):
    response = client.get("/api/docs/", secure=True)
    assert response.status_code == 200
    _assert_security_headers(response)
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert "<style" not in html
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1).replace("&amp;", "&")
    script = client.get(script_url, secure=True)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_swagger_assets_are_served_from_the_site_itself(client):
    html = client.get("/api/docs/", secure=True).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert all(not url.startswith(("http://", "https://", "//")) for url in assets)


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_in_production(settings):
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/admin/login/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.IGNORECASE)
PORTAL_PAGES = ["/", "/students/", "/roster/", "/contacts/", "/import/", "/cards/", "/documents/", "/profile/", "/notices/"]
ADMIN_PAGES = ["/admin/", "/admin/enrollment/student/", "/admin/enrollment/school/", "/admin/enrollment/school/add/"]


@pytest.mark.django_db
def test_portal_and_admin_pages_run_under_the_csp_without_inline_scripts_or_styles(world):
    from tests.security.personas import CITY_STAFF, COORDINATOR, personas

    people = personas(world)
    checked = 0
    for persona, pages in ((COORDINATOR, PORTAL_PAGES), (CITY_STAFF, ADMIN_PAGES)):
        for url in pages:
            response = people[persona].client.get(url)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue  # pages still to come, or not for this persona
            html = response.content.decode()
            assert not INLINE_SCRIPT.search(html), url
            assert not INLINE_STYLE.search(html), url
            checked += 1
    assert checked >= 3
