"""The roster page: head counts at the top, then one list at a time, fifty rows a page."""

import datetime
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from tests.factories import StudentFactory, login


def _roster(world, n, school=None, **student):
    school = school or world.school
    StudentFactory.create_batch(n, school=school, **student)
    roster = roster_get_or_create(school=school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("test"), roster=roster)
    return roster


def _rows(html: str) -> int:
    table = html[html.index('id="roster-lists"'):]
    return len(re.findall(r'<td class="mono">', table))


def test_roster_page_shows_fifty_paying_students_a_page_and_the_rest_on_the_next(client, world):
    _roster(world, 60)
    login(client, world.coordinator)
    first = client.get(reverse("portal:roster")).content.decode()
    second = client.get(reverse("portal:roster") + "?list=paying&page=2").content.decode()
    assert _rows(first) == 50 and _rows(second) == 10
    assert "学校缴费名单（60）" in first and "1 / 2" in first
    assert 'id="preview-paying">60<' in first


def test_roster_page_lists_suspected_graduates_on_their_own_tab(client, world):
    world.school.graduation_date = datetime.date(2026, 7, 1)
    world.school.save()
    _roster(world, 3)
    _roster(world, 2, grade=world.school.final_grade)
    login(client, world.coordinator)
    page = client.get(reverse("portal:roster") + "?list=suspected").content.decode()
    assert "疑似毕业生（请核对后剔除）（2）" in page
    assert page.count("最高年级") == 2


def test_roster_page_asks_the_same_few_queries_whatever_the_school_size(client, world, settings):
    settings.ROSTER_PAGE_CACHE_SECONDS = 0  # the page's own queries, as on a cache miss
    login(client, world.coordinator)
    _roster(world, 3)
    client.get(reverse("portal:roster"))  # first request loads translations and templates
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("portal:roster"))
    _roster(world, 120)
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("portal:roster"))
    assert len(small) == len(large) <= 10


def test_coordinator_sees_no_student_of_another_school_on_the_roster_page(client, world):
    _roster(world, 2)
    _roster(world, 2, school=world.other_school, name="别校学生")
    login(client, world.coordinator)
    for which in ("paying", "exempt", "elsewhere", "suspected"):
        page = client.get(reverse("portal:roster") + f"?list={which}").content.decode()
        assert "别校学生" not in page
