"""A graduate feed and a deregistration run belong to one city: its staff see and run them, no other city's."""

import pytest
from django.urls import reverse

from graduates.models import DeregistrationRun, GraduateFeed
from graduates.parsing import FeedRefused
from graduates.services import deregistration_run, deregistration_runs_per_city, feed_receive
from tests.factories import CityFactory, OfficeFactory, SchoolFactory, StudentFactory, login, make_user
from tests.graduates.conftest import enrolled_student, receive, record


@pytest.fixture
def suzhou(world):
    city = CityFactory(code="suzhou", name="苏州市")
    centre = OfficeFactory(code="sz-centre", city=city, name="苏州市社保中心", district="姑苏区")
    school = SchoolFactory(code="SZ-U-001", name="苏州大学", office=centre, kind="university")
    staff = make_user("staff-suzhou", role="city_staff", city=city, staff=True)
    return type("Suzhou", (), {"city": city, "school": school, "staff": staff})


def test_a_feed_without_a_sender_belongs_to_the_city_its_schools_lie_in(world, suzhou):
    guangzhou_feed = receive([record(StudentFactory(school=world.school))])
    suzhou_feed = receive([record(StudentFactory(school=suzhou.school))])
    assert (guangzhou_feed.city, suzhou_feed.city) == (world.city, suzhou.city)
    mixed = receive([record(StudentFactory(school=world.school)), record(StudentFactory(school=suzhou.school))])
    assert mixed.city is None


def test_a_feed_sent_by_guangzhou_staff_belongs_to_guangzhou(world):
    feed = feed_receive(
        source="school_roll", via=GraduateFeed.Via.ADMIN, records=[record(StudentFactory(school=world.school))],
        user=world.city_staff,
    ).feed
    assert feed.city == world.city


def test_guangzhou_staff_cannot_send_graduates_of_a_suzhou_school(world, suzhou):
    rows = [record(StudentFactory(school=world.school)), record(StudentFactory(school=suzhou.school))]
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, records=rows, user=world.city_staff)
    (error,) = refused.value.errors
    assert (error.row, error.column) == (2, "学校代码")
    assert "其他城市" in error.message
    assert not GraduateFeed.objects.exists()


def test_suzhou_staff_neither_list_nor_open_a_guangzhou_feed(client, world, suzhou):
    feed = receive([record(StudentFactory(school=world.school))])
    login(client, suzhou.staff)
    listing = client.get(reverse("admin:graduates_graduatefeed_changelist"))
    assert listing.status_code == 200 and list(listing.context["cl"].result_list) == []
    assert client.get(reverse("admin:graduates_graduatefeed_change", args=[feed.pk])).status_code == 302
    login(client, world.city_staff)
    assert list(client.get(reverse("admin:graduates_graduatefeed_changelist")).context["cl"].result_list) == [feed]


def test_a_feed_of_no_known_city_is_shown_to_superusers_only(client, world, suzhou):
    receive([record(StudentFactory(school=world.school)), record(StudentFactory(school=suzhou.school))])
    login(client, world.city_staff)
    assert list(client.get(reverse("admin:graduates_graduatefeed_changelist")).context["cl"].result_list) == []


def test_each_city_gets_its_own_run_and_sees_only_that_run(client, world, suzhou, next_year):
    guangzhou_student, _ = enrolled_student(world.school, next_year)
    receive([record(guangzhou_student)])
    receive([record(StudentFactory(school=suzhou.school))])
    runs = deregistration_runs_per_city(triggered_by="nightly")
    assert sorted((run.city.code, run.feeds_processed) for run in runs) == [("guangzhou", 1), ("suzhou", 1)]
    login(client, suzhou.staff)
    listing = client.get(reverse("admin:graduates_deregistrationrun_changelist"))
    assert [run.city for run in listing.context["cl"].result_list] == [suzhou.city]
    guangzhou_run = DeregistrationRun.objects.get(city=world.city)
    assert client.get(reverse("admin:graduates_deregistrationrun_change", args=[guangzhou_run.pk])).status_code == 302


def test_a_run_started_by_suzhou_staff_leaves_guangzhou_feeds_pending(client, world, suzhou, next_year, django_capture_on_commit_callbacks):
    guangzhou_feed = receive([record(enrolled_student(world.school, next_year)[0])])
    suzhou_feed = receive([record(StudentFactory(school=suzhou.school))])
    suzhou.staff.user_permissions.add(*_feed_permissions())
    login(client, suzhou.staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:graduates_graduatefeed_run"))
    assert response.status_code == 302
    guangzhou_feed.refresh_from_db()
    suzhou_feed.refresh_from_db()
    assert (guangzhou_feed.state, suzhou_feed.state) == ("pending", "done")
    assert DeregistrationRun.objects.get().city == suzhou.city


def test_a_run_for_one_city_processes_none_of_another_citys_feeds(world, suzhou):
    feed = receive([record(StudentFactory(school=world.school))])
    run = deregistration_run(triggered_by="test", city=suzhou.city, collect_inbox=False)
    feed.refresh_from_db()
    assert (run.feeds_processed, feed.state) == (0, "pending")


def _feed_permissions():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="graduates", codename="add_graduatefeed")
