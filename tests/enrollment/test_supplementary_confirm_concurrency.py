"""Racing supplementary confirmations on PostgreSQL: the late students are frozen once, so charged once."""

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import ConfirmationLine, Enrollment, Roster, RosterConfirmation
from enrollment.services import rosters
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_add_late, enrollment_refresh
from enrollment.services.rosters import roster_confirm, roster_confirm_supplementary
from tests.enrollment.test_confirm_concurrency import run_together
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def late(world):
    """A confirmed roster of three, then two late students."""
    for student in StudentFactory.create_batch(3, school=world.school):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    roster.refresh_from_db()
    roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    for student in StudentFactory.create_batch(2, school=world.school):
        enrollment_add_late(actor=Actor(world.coordinator, "portal"), student=student, insurance_year=world.year)
    return roster


def _confirm(world, roster):
    def confirm():
        return roster_confirm_supplementary(
            actor=Actor(world.coordinator, "portal"),
            roster=Roster.objects.select_related("school", "insurance_year").get(pk=roster.pk), checked=True,
        )
    return confirm


def test_ten_simultaneous_supplementary_confirmations_freeze_the_late_students_once(world, late):
    outcomes = run_together([_confirm(world, late)] * 10)
    confirmations = [o for o in outcomes if isinstance(o, RosterConfirmation)]
    refusals = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(confirmations) == 1 and len(refusals) == 9
    assert {r.code for r in refusals} == {"nothing_to_confirm"}
    assert ConfirmationLine.objects.filter(live=True).count() == 5
    assert Enrollment.objects.count() == 5


def test_without_the_roster_lock_the_database_still_refuses_a_second_freeze(world, late, monkeypatch):
    """Negative control: a caller that skips the roster lock and the check still cannot put a student on two lines."""
    stale = list(Enrollment.objects.filter(confirmation_lines__isnull=True).values_list("pk", flat=True))
    manager = Roster.objects

    class NoLock:
        def __getattr__(self, name):
            return getattr(manager, name)

        def select_for_update(self, *args, **kwargs):
            return manager.all()

    monkeypatch.setattr(rosters.Roster, "objects", NoLock())
    monkeypatch.setattr("enrollment.selectors.late_enrollments", lambda *, roster: Enrollment.objects.filter(pk__in=stale))
    outcomes = run_together([_confirm(world, late)] * 2)
    monkeypatch.undo()
    confirmations = [o for o in outcomes if isinstance(o, RosterConfirmation)]
    refusals = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(confirmations) == 1 and [r.code for r in refusals] == ["already_confirmed"]
    assert ConfirmationLine.objects.filter(live=True).count() == 5
    assert RosterConfirmation.objects.filter(supplementary=True).count() == 1
