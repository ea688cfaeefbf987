"""The roster page shows the graduates the nightly run could not stop, and where the school's payment stands."""

from django.urls import reverse

from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from enrollment.services.rosters import roster_confirm
from graduates.models import GraduateFeed
from graduates.services import deregistration_run, feed_receive
from tests.factories import StudentFactory, identity_number

BACKEND = "enrollment.auth.MembershipBackend"


def _roster_with_students(world, n=2):
    for _ in range(n):
        StudentFactory(school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor(user=world.coordinator, source="portal"), roster=roster)
    return roster


def _unknown_graduate(school, name="查无此人"):
    record = {"identity_number": identity_number(), "name": name, "school_code": school.code,
              "graduation_date": "2026-06-30", "class_name": "初三1班"}
    feed_receive(source="school_roll", via=GraduateFeed.Via.API, records=[record])
    deregistration_run(triggered_by="test", collect_inbox=False)


def test_coordinator_sees_graduates_that_could_not_be_stopped_before_confirming(client, world):
    _roster_with_students(world)
    _unknown_graduate(world.school)
    client.force_login(world.coordinator, backend=BACKEND)
    page = client.get(reverse("portal:roster")).content.decode()
    assert "未能自动停保的毕业生" in page and "查无此人" in page


def test_other_schools_coordinator_does_not_see_these_graduates(client, world):
    _unknown_graduate(world.school)
    client.force_login(world.other_coordinator, backend=BACKEND)
    page = client.get(reverse("portal:roster")).content.decode()
    assert "查无此人" not in page


def test_confirmed_roster_page_says_why_the_school_cannot_be_debited(client, world):
    roster = _roster_with_students(world)
    roster.refresh_from_db()
    roster_confirm(actor=Actor(user=world.coordinator, source="portal"), roster=roster, checked=True)
    client.force_login(world.coordinator, backend=BACKEND)
    page = client.get(reverse("portal:roster")).content.decode()
    assert 'id="billing-status"' in page
    assert "银行扣费" in page
    # The world's school has no debit account: the page names what blocks the debit.
    assert "账户" in page
