"""Late students: registered after the roster was confirmed or billed, confirmed on a supplementary confirmation."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from enrollment.models import (
    AuditEvent,
    ConfirmationLine,
    Enrollment,
    Hotline,
    InsuranceYear,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.selectors import late_enrollments, supplementary_preview
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_add_late, enrollment_refresh
from enrollment.services.rosters import roster_confirm, roster_confirm_supplementary, roster_reopen
from enrollment.services.students import student_create, student_update
from tests.enrollment.test_student_services import _data
from tests.factories import StudentFactory


def _portal(world):
    return Actor(user=world.coordinator, source="portal")


@pytest.fixture
def confirmed(world):
    """Three students confirmed on the school's roster."""
    for student in StudentFactory.create_batch(3, school=world.school):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    roster.refresh_from_db()
    return roster_confirm(actor=_portal(world), roster=roster, checked=True)


def _roster(world):
    return Roster.objects.select_related("school", "insurance_year").get(school=world.school, insurance_year=world.year)


def _close_window(year, *, locked):
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=locked
    )
    year.refresh_from_db()


def test_a_student_registered_after_confirmation_waits_for_the_supplementary_confirmation(world, confirmed):
    late = student_create(actor=_portal(world), school=world.school, data=_data(7))
    enrollment = Enrollment.objects.get(student=late)
    assert enrollment.fee_due == world.year.fee_standard
    assert list(late_enrollments(roster=_roster(world))) == [enrollment]
    confirmed.refresh_from_db()
    assert (confirmed.paying_count, confirmed.lines.count()) == (3, 3)
    assert _roster(world).state == RosterState.CONFIRMED
    assert AuditEvent.objects.filter(action="enrollment_add_late", student=late).exists()


def test_the_supplementary_confirmation_freezes_only_the_late_students_and_leaves_the_first_as_it_was(world, confirmed):
    late = student_create(actor=_portal(world), school=world.school, data=_data(7))
    preview = supplementary_preview(roster=_roster(world))
    assert (preview.count, preview.amount) == (1, world.year.fee_standard)
    assert preview.students[0]["name"] == late.name and "*" in preview.students[0]["masked_identity_number"]
    supplementary = roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True,
                                                 expected_version=preview.version)
    assert supplementary.supplementary
    assert (supplementary.paying_count, supplementary.total_amount) == (1, world.year.fee_standard)
    assert list(supplementary.lines.values_list("enrollment__student", flat=True)) == [late.pk]
    confirmed.refresh_from_db()
    assert (confirmed.paying_count, confirmed.lines.count(), confirmed.reopened_at) == (3, 3, None)
    assert _roster(world).live_confirmation == confirmed
    assert late_enrollments(roster=_roster(world)).count() == 0


def test_the_supplementary_confirmation_needs_the_tick_box(world, confirmed):
    student_create(actor=_portal(world), school=world.school, data=_data(7))
    with pytest.raises(ValidationError) as caught:
        roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=False)
    assert "已核对名单" in " ".join(caught.value.messages)
    assert not RosterConfirmation.objects.filter(supplementary=True).exists()


def test_confirming_the_late_students_twice_confirms_them_once(world, confirmed):
    student_create(actor=_portal(world), school=world.school, data=_data(7))
    roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True)
    with pytest.raises(ValidationError) as caught:
        roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True)
    assert caught.value.code == "nothing_to_confirm"
    assert RosterConfirmation.objects.filter(supplementary=True).count() == 1


def test_a_student_already_confirmed_is_not_added_again(world, confirmed):
    enrollment = confirmed.lines.first().enrollment
    with pytest.raises(ValidationError) as caught:
        enrollment_add_late(actor=_portal(world), student=enrollment.student, insurance_year=world.year)
    assert caught.value.code == "already_charged" and "不会重复缴费" in caught.value.messages[0]


def test_a_confirmed_student_still_cannot_be_edited(world, confirmed):
    student = confirmed.lines.first().enrollment.student
    with pytest.raises(ValidationError) as caught:
        student_update(actor=_portal(world), student=student, data={"class_name": "6班"})
    assert caught.value.code == "roster_locked"


def test_a_late_student_can_be_corrected_before_the_supplementary_confirmation(world, confirmed):
    late = student_create(actor=_portal(world), school=world.school, data=_data(7))
    student_update(actor=_portal(world), student=late, data={"class_name": "6班"})
    late.refresh_from_db()
    assert late.class_name == "6班"


def test_the_database_refuses_a_student_on_two_confirmations_in_force(world, confirmed):
    line = confirmed.lines.first()
    other = RosterConfirmation.objects.create(
        roster=confirmed.roster, supplementary=True, confirmed_by=world.coordinator, roster_version=0,
        fee_standard=line.fee, paying_count=1, total_amount=line.fee,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfirmationLine.objects.create(confirmation=other, enrollment=line.enrollment, fee=line.fee)


def test_reopening_sends_back_the_supplementary_confirmation_too_and_the_next_confirmation_takes_everyone_once(world, confirmed):
    student_create(actor=_portal(world), school=world.school, data=_data(7))
    roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True)
    roster_reopen(actor=Actor(world.city_staff, "admin"), roster=_roster(world), reason="名单有误")
    assert not ConfirmationLine.objects.filter(live=True).exists()
    again = roster_confirm(actor=_portal(world), roster=_roster(world), checked=True)
    assert again.paying_count == 4 and not again.supplementary


def test_after_the_window_a_locked_year_refuses_a_late_student_and_says_what_to_do(world, confirmed):
    Hotline.objects.create(city=world.city, topic="学生参保", phone="12333")
    _close_window(world.year, locked=True)
    with pytest.raises(ValidationError) as caught:
        student_create(actor=_portal(world), school=world.school, data=_data(7))
    message = " ".join(caught.value.messages)
    assert caught.value.code == "window_closed"
    assert "户籍所在地" in message and "12333" in message and world.year.window_end.isoformat() in message
    assert Enrollment.objects.count() == 3


def test_after_the_window_a_locked_year_refuses_the_supplementary_confirmation(world, confirmed):
    student_create(actor=_portal(world), school=world.school, data=_data(7))
    _close_window(world.year, locked=True)
    with pytest.raises(ValidationError) as caught:
        roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True)
    assert caught.value.code == "window_closed" and "户籍所在地" in caught.value.messages[0]


def test_after_the_window_a_year_not_locked_still_takes_late_students(world, confirmed):
    _close_window(world.year, locked=False)
    late = student_create(actor=_portal(world), school=world.school, data=_data(7))
    supplementary = roster_confirm_supplementary(actor=_portal(world), roster=_roster(world), checked=True)
    assert list(supplementary.lines.values_list("enrollment__student", flat=True)) == [late.pk]


def test_on_an_open_roster_adding_a_late_student_is_the_ordinary_registration(world):
    student = StudentFactory(school=world.school)
    enrollment = enrollment_add_late(actor=_portal(world), student=student, insurance_year=world.year)
    assert enrollment.fee_due == world.year.fee_standard
    assert late_enrollments(roster=_roster(world)).count() == 0
