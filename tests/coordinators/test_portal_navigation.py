"""Every page a coordinator reaches from the portal's navigation keeps the navigation."""

import re

import pytest
from django.urls import reverse

BACKEND = "enrollment.auth.MembershipBackend"
NAV = 'class="nav" aria-label='


@pytest.fixture
def coordinator_client(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    return client


def _nav_links(html: str) -> list[str]:
    nav = html[html.index(NAV) : html.index("</nav>")]
    return re.findall(r'href="([^"]+)"', nav)


def test_every_page_linked_from_the_navigation_renders_the_navigation(coordinator_client):
    links = _nav_links(coordinator_client.get(reverse("portal:home")).content.decode())
    assert reverse("graduates:my-exceptions") in links and reverse("billing:receipts") in links
    for link in links:
        response = coordinator_client.get(link, follow=True)
        assert response.status_code == 200, link
        html = response.content.decode()
        assert NAV in html, f"{link} lost the navigation"
        assert "越秀第一中学" in html, f"{link} does not name the school"


def test_staff_pages_outside_the_portal_show_no_portal_navigation(client, world):
    client.force_login(world.district_staff, backend=BACKEND)
    assert NAV not in client.get(reverse("portal:login")).content.decode()


def test_the_navigation_follows_the_language_and_marks_only_the_home_page_active(coordinator_client, settings):
    # The navigation is rendered once per language and kind of page (coordinators.templatetags.portal_frame).
    home, roster = reverse("portal:home"), reverse("portal:roster")

    def nav(url):
        html = coordinator_client.get(url).content.decode()
        return html[html.index(NAV) : html.index("</nav>")]

    assert f'href="{home}" class="active"' in nav(home) and "首页" in nav(home)
    assert 'class="active"' not in nav(roster) and "参保名单/确认" in nav(roster)
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "首页" not in nav(roster) and 'class="active"' not in nav(roster)
    assert f'href="{home}" class="active"' in nav(home)
