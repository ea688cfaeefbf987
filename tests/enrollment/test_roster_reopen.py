"""Sending a confirmed roster back (R8): bureau staff only, with a reason, before billing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from enrollment.models import AuditEvent, Roster, RosterConfirmation, RosterState
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.rosters import roster_confirm, roster_reopen
from tests.factories import StudentFactory, login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def confirmed(world):
    for student in StudentFactory.create_batch(2, school=world.school):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    roster.refresh_from_db()
    return roster


@pytest.mark.parametrize("persona", ["district_staff", "city_staff"])
def test_bureau_staff_reopen_a_confirmed_roster_with_a_reason(world, confirmed, persona):
    roster = roster_reopen(actor=Actor(getattr(world, persona), "admin"), roster=confirmed, reason="学校申请补录新生")
    assert roster.state == RosterState.OPEN
    old = RosterConfirmation.objects.get(roster=confirmed)
    assert old.reopened_at is not None
    assert old.reopen_reason == "学校申请补录新生"
    assert old.reopened_by == getattr(world, persona)
    event = AuditEvent.objects.get(action="roster_reopen")
    assert event.note == "学校申请补录新生"


def test_after_reopening_the_school_can_change_and_confirm_again(world, confirmed):
    roster_reopen(actor=Actor(world.district_staff, "admin"), roster=confirmed, reason="补录")
    enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    roster = Roster.objects.get(pk=confirmed.pk)
    again = roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    assert again.paying_count == 3
    assert RosterConfirmation.objects.filter(roster=roster).count() == 2
    assert RosterConfirmation.objects.filter(roster=roster, reopened_at__isnull=True).count() == 1


@pytest.mark.parametrize("persona", ["coordinator", "other_coordinator", "other_district_staff"])
def test_coordinators_and_other_districts_cannot_reopen(world, confirmed, persona):
    with pytest.raises(PermissionDenied):
        roster_reopen(actor=Actor(getattr(world, persona), "admin"), roster=confirmed, reason="想改")
    assert Roster.objects.get(pk=confirmed.pk).state == RosterState.CONFIRMED


def test_reopening_needs_a_written_reason(world, confirmed):
    with pytest.raises(ValidationError):
        roster_reopen(actor=Actor(world.district_staff, "admin"), roster=confirmed, reason=" ")
    assert Roster.objects.get(pk=confirmed.pk).state == RosterState.CONFIRMED


@pytest.mark.parametrize("state", [RosterState.BILLED, RosterState.SETTLED])
def test_a_billed_roster_cannot_be_reopened(world, confirmed, state):
    Roster.objects.filter(pk=confirmed.pk).update(state=state)
    with pytest.raises(ValidationError) as caught:
        roster_reopen(actor=Actor(world.city_staff, "admin"), roster=confirmed, reason="错误")
    assert caught.value.code == "roster_billed"
    assert Roster.objects.get(pk=confirmed.pk).state == state


def test_an_open_roster_cannot_be_reopened(world):
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    with pytest.raises(ValidationError) as caught:
        roster_reopen(actor=Actor(world.city_staff, "admin"), roster=roster, reason="错误")
    assert caught.value.code == "roster_not_confirmed"


def test_the_admin_action_asks_for_a_reason_then_reopens(world, confirmed, client):
    login(client, world.district_staff)
    url = "/admin/enrollment/roster/"
    form = client.post(url, {"action": "reopen_rosters", "_selected_action": [confirmed.pk]})
    assert form.status_code == 200 and "退回原因" in form.content.decode()
    assert Roster.objects.get(pk=confirmed.pk).state == RosterState.CONFIRMED
    done = client.post(
        url, {"action": "reopen_rosters", "_selected_action": [confirmed.pk], "apply": "1", "reason": "学校申请补录"},
        follow=True,
    )
    assert "已退回1份名单" in done.content.decode()
    assert Roster.objects.get(pk=confirmed.pk).state == RosterState.OPEN


def test_the_roster_page_shows_the_preview(world, confirmed, client):
    login(client, world.city_staff)
    page = client.get(f"/admin/enrollment/roster/{confirmed.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "缴费人数" in text and "400.00" in text
