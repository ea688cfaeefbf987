"""Racing writers on PostgreSQL: one confirmation out of twenty, and no edit lands after the snapshot."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from enrollment.models import Enrollment, Roster, RosterConfirmation, RosterState
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.rosters import paying_enrollments, roster_confirm, roster_reopen
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_together(functions):
    """Start every function at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def runner(index, function):
        try:
            barrier.wait()
            outcomes[index] = function()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_simultaneous_confirmations_give_exactly_one(world):
    for student in StudentFactory.create_batch(5, school=world.school):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    actor = Actor(world.coordinator, "portal")

    def confirm():
        return roster_confirm(
            actor=actor, roster=Roster.objects.select_related("school", "insurance_year").get(pk=roster.pk), checked=True
        )

    outcomes = run_together([confirm] * 20)
    confirmations = [o for o in outcomes if isinstance(o, RosterConfirmation)]
    refusals = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(confirmations) == 1
    assert len(refusals) == 19 and {r.code for r in refusals} == {"roster_locked"}
    assert RosterConfirmation.objects.filter(roster=roster).count() == 1
    assert RosterConfirmation.objects.get().lines.count() == 5


def test_an_edit_racing_a_confirmation_never_changes_the_confirmed_snapshot(world):
    # More students than rounds: every round may remove one, and its newcomer may lose the race.
    for student in StudentFactory.create_batch(8, school=world.school):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    coordinator, staff = Actor(world.coordinator, "portal"), Actor(world.district_staff, "admin")

    for round_number in range(6):
        newcomer = StudentFactory(school=world.school)
        victim = paying_enrollments(roster).order_by("pk").first()

        def confirm():
            return roster_confirm(
                actor=coordinator, roster=Roster.objects.select_related("school", "insurance_year").get(pk=roster.pk),
                checked=True,
            )

        def add(newcomer=newcomer):
            return enrollment_refresh(actor=Actor.job("t"), student=newcomer, insurance_year=world.year)

        def remove(victim=victim):
            from enrollment.services.enrollments import enrollment_remove

            return enrollment_remove(actor=coordinator, enrollment=Enrollment.objects.get(pk=victim.pk), reason="疑似毕业")

        outcomes = run_together([confirm, add, remove])
        assert isinstance(outcomes[0], RosterConfirmation), outcomes[0]
        for outcome in outcomes[1:]:
            assert not isinstance(outcome, Exception) or getattr(outcome, "code", None) == "roster_locked", outcome
        live = RosterConfirmation.objects.get(roster=roster, reopened_at__isnull=True)
        frozen = set(live.lines.values_list("enrollment_id", flat=True))
        # Whatever won the race, the snapshot is exactly the paying roster as it stands now.
        assert frozen == set(paying_enrollments(roster).values_list("pk", flat=True)), round_number
        assert live.paying_count == len(frozen)
        roster_reopen(actor=staff, roster=Roster.objects.get(pk=roster.pk), reason=f"第{round_number}轮")
        assert Roster.objects.get(pk=roster.pk).state == RosterState.OPEN


def test_a_bulk_import_racing_a_confirmation_lands_wholly_before_or_is_refused(world):
    from enrollment.services.enrollments import enrollments_refresh_bulk

    StudentFactory.create_batch(3, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    coordinator, staff = Actor(world.coordinator, "portal"), Actor(world.district_staff, "admin")
    for round_number in range(4):
        StudentFactory.create_batch(20, school=world.school)

        def fresh():
            return Roster.objects.select_related("school", "insurance_year").get(pk=roster.pk)

        outcomes = run_together([
            lambda: roster_confirm(actor=coordinator, roster=fresh(), checked=True),
            lambda: enrollments_refresh_bulk(actor=Actor.job("import"), roster=fresh()),
        ])
        assert isinstance(outcomes[0], RosterConfirmation), outcomes[0]
        assert not isinstance(outcomes[1], Exception) or outcomes[1].code == "roster_locked", outcomes[1]
        live = RosterConfirmation.objects.get(roster=roster, reopened_at__isnull=True)
        frozen = set(live.lines.values_list("enrollment_id", flat=True))
        assert frozen == set(paying_enrollments(roster).values_list("pk", flat=True)), round_number
        roster_reopen(actor=staff, roster=fresh(), reason=f"第{round_number}轮")
        enrollments_refresh_bulk(actor=Actor.job("import"), roster=fresh())
