"""Bureau notices to coordinators (R18): audience, unread on the home page, marking read, who has not read."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from coordinators.models import Notice, NoticeRead
from coordinators.selectors_notices import (
    notices_for,
    notices_visible_to_staff,
    read_counts,
    unread_for,
    unread_users,
)
from coordinators.services.notices import mark_all_read, mark_read, publish_notice
from enrollment.services.common import Actor
from tests.coordinators.documents_support import login
from tests.factories import CityFactory, OfficeFactory, SchoolFactory, make_user


def admin(user):
    return Actor(user=user, source="admin")


def test_notice_to_one_office_reaches_only_its_schools(world):
    notice = publish_notice(actor=admin(world.district_staff), title="越秀区协管员培训", body="9月5日上午", office=world.office,
                            kind=Notice.Kind.TRAINING)

    assert list(unread_for(world.coordinator)) == [notice]
    assert not unread_for(world.other_coordinator).exists()
    assert notice.city == world.city  # filled in from the office


def test_city_notice_reaches_every_school_of_the_city_but_not_another_city(world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    sz_school = SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou))
    sz_coordinator = make_user("coord-sz", role="coordinator", school=sz_school)

    notice = publish_notice(actor=admin(world.city_staff), title="正式缴费标准公布", body="每人每年...", city=world.city,
                            kind=Notice.Kind.POLICY)

    assert notice in unread_for(world.coordinator) and notice in unread_for(world.other_coordinator)
    assert not notices_for(sz_coordinator).exists()


def test_notice_to_one_school_reaches_only_that_school(world):
    publish_notice(actor=admin(world.city_staff), title="请补充协管员信息", body="...", school=world.other_school)
    assert not notices_for(world.coordinator).exists() and notices_for(world.other_coordinator).count() == 1


def test_district_staff_cannot_publish_to_another_office_or_the_whole_city(world):
    with pytest.raises(PermissionDenied):
        publish_notice(actor=admin(world.district_staff), title="t", body="b", office=world.other_office)
    with pytest.raises(PermissionDenied):
        publish_notice(actor=admin(world.district_staff), title="t", body="b", school=world.other_school)
    with pytest.raises(PermissionDenied):
        publish_notice(actor=admin(world.district_staff), title="t", body="b", city=world.city)
    with pytest.raises(PermissionDenied):
        publish_notice(actor=admin(world.coordinator), title="t", body="b", school=world.school)
    assert not Notice.objects.exists()


def test_a_scheduled_notice_is_not_shown_before_its_time(world):
    publish_notice(actor=admin(world.city_staff), title="later", body="b", city=world.city,
                   published_at=timezone.now() + datetime.timedelta(days=1))
    assert not notices_for(world.coordinator).exists()


def test_marking_read_removes_it_from_unread_and_is_idempotent(world):
    notice = publish_notice(actor=admin(world.city_staff), title="培训通知", body="b", city=world.city)

    first = mark_read(user=world.coordinator, notice=notice)
    again = mark_read(user=world.coordinator, notice=notice)

    assert first.pk == again.pk and NoticeRead.objects.count() == 1
    assert not unread_for(world.coordinator).exists()
    assert unread_for(world.other_coordinator).exists()  # read per person, not per notice


def test_a_coordinator_cannot_mark_a_notice_of_another_office(world):
    notice = publish_notice(actor=admin(world.other_district_staff), title="海珠区", body="b", office=world.other_office)
    with pytest.raises(Notice.DoesNotExist):
        mark_read(user=world.coordinator, notice=notice)


def test_bureau_sees_who_has_not_read(world):
    notice = publish_notice(actor=admin(world.city_staff), title="培训通知", body="b", city=world.city)
    mark_read(user=world.coordinator, notice=notice)

    assert list(unread_users(notice)) == [world.other_coordinator]
    assert read_counts(notice) == (1, 2)


def test_staff_see_notices_in_their_scope(world):
    mine = publish_notice(actor=admin(world.district_staff), title="越秀", body="b", office=world.office)
    theirs = publish_notice(actor=admin(world.other_district_staff), title="海珠", body="b", office=world.other_office)
    citywide = publish_notice(actor=admin(world.city_staff), title="全市", body="b", city=world.city)

    assert set(notices_visible_to_staff(world.district_staff)) == {mine, citywide}
    assert set(notices_visible_to_staff(world.city_staff)) == {mine, theirs, citywide}
    assert not notices_visible_to_staff(world.coordinator).exists()


def test_home_page_shows_unread_notices_and_reading_clears_them(world, client):
    notice = publish_notice(actor=admin(world.district_staff), title="协管员培训报名", body="请于9月1日前报名", office=world.office)
    login(client, world.coordinator)

    assert "协管员培训报名" in client.get(reverse("portal:home")).content.decode()
    detail = client.get(reverse("portal:notice_detail", args=[notice.pk]))
    assert "请于9月1日前报名" in detail.content.decode()

    response = client.post(reverse("portal:notice_read", args=[notice.pk]), {"next": "https://evil.example/"})

    assert response.status_code == 302 and response.url == reverse("portal:notices")
    assert "协管员培训报名" not in client.get(reverse("portal:home")).content.decode()


def test_mark_all_read(world, client):
    publish_notice(actor=admin(world.city_staff), title="一", body="b", city=world.city)
    publish_notice(actor=admin(world.city_staff), title="二", body="b", city=world.city)
    assert mark_all_read(user=world.coordinator) == 2
    assert not unread_for(world.coordinator).exists()


def test_other_offices_notice_page_is_404_for_a_coordinator(world, client):
    notice = publish_notice(actor=admin(world.other_district_staff), title="海珠区", body="b", office=world.other_office)
    login(client, world.coordinator)
    assert client.get(reverse("portal:notice_detail", args=[notice.pk])).status_code == 404
    assert client.post(reverse("portal:notice_read", args=[notice.pk])).status_code == 404


def test_admin_lists_unread_coordinators_and_district_staff_publish_only_to_their_office(world, client):
    notice = publish_notice(actor=admin(world.city_staff), title="全市培训", body="b", city=world.city)
    login(client, world.city_staff)

    page = client.get(reverse("admin:coordinators_notice_change", args=[notice.pk]))
    assert page.status_code == 200 and "海珠第一中学" in page.content.decode() and "越秀第一中学" in page.content.decode()

    login(client, world.district_staff)
    response = client.post(reverse("admin:coordinators_notice_add"), {
        "kind": "training", "title": "越秀区培训", "body": "内容", "office": world.other_office.pk,
        "published_at_0": "2026-09-01", "published_at_1": "09:00:00",
    })
    assert response.status_code == 200  # form redisplayed with an error
    assert not Notice.objects.filter(title="越秀区培训").exists()

    response = client.post(reverse("admin:coordinators_notice_add"), {
        "kind": "training", "title": "越秀区培训", "body": "内容", "office": world.office.pk,
        "published_at_0": "2026-09-01", "published_at_1": "09:00:00",
    })
    assert response.status_code == 302
    created = Notice.objects.get(title="越秀区培训")
    assert created.office == world.office and created.published_by == world.district_staff
    # District staff cannot edit the city-wide notice.
    assert client.get(reverse("admin:coordinators_notice_change", args=[notice.pk])).status_code in (200, 403)
    assert client.post(reverse("admin:coordinators_notice_change", args=[notice.pk]), {
        "kind": "training", "title": "改掉", "body": "b", "city": world.city.pk,
        "published_at_0": "2026-09-01", "published_at_1": "09:00:00",
    }).status_code == 403
    notice.refresh_from_db()
    assert notice.title == "全市培训"


def test_opening_a_notice_marks_it_read(world, client):
    notice = publish_notice(actor=admin(world.district_staff), title="协管员培训报名", body="请于9月1日前报名", office=world.office)
    login(client, world.coordinator)

    client.get(reverse("portal:notice_detail", args=[notice.pk]))

    assert not unread_for(world.coordinator).exists()
    assert "协管员培训报名" not in client.get(reverse("portal:home")).content.decode()
