"""The confirmation gate (R8): the school ticks "checked", the snapshot freezes what will be charged."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from enrollment.models import (
    ConfirmationLine,
    Enrollment,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh, enrollment_remove, enrollments_refresh_bulk
from enrollment.services.rosters import roster_confirm
from tests.factories import StudentFactory
from tests.files import chinese_digits


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roster(world):
    students = StudentFactory.create_batch(6, school=world.school)
    dibao = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})[0]
    Exemption.objects.create(
        identity_number=students[0].identity_number, category=dibao, source=ExemptionSource.CIVIL_AFFAIRS,
        valid_from=datetime.date(2000, 1, 1),
    )
    students[1].hukou_rural = True
    students[1].save()
    from enrollment.models import ChannelRule

    ChannelRule.objects.create(insurance_year=world.year, order=1, condition="rural_hukou", channel="village_committee")
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    enrollment_remove(actor=Actor.job("t"), enrollment=Enrollment.objects.get(student=students[2]), reason="毕业")
    roster.refresh_from_db()
    roster.students = students
    return roster


def coordinator(world):
    return Actor(world.coordinator, "portal")


def test_confirming_freezes_paying_and_exempt_students_with_totals(world, roster):
    confirmation = roster_confirm(actor=coordinator(world), roster=roster, checked=True, expected_version=roster.version)
    # 6 students: one exempt, one through the village committee, one removed, three paying.
    assert (confirmation.paying_count, confirmation.exempt_count) == (3, 1)
    assert confirmation.total_amount == 600
    assert confirmation.lines.count() == 4
    exempt_line = confirmation.lines.get(enrollment__student=roster.students[0])
    assert exempt_line.fee == 0 and exempt_line.exemption_category.code == "dibao"
    roster.refresh_from_db()
    assert roster.state == RosterState.CONFIRMED


def test_confirming_needs_the_checked_tick(world, roster):
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=coordinator(world), roster=roster, checked=False)
    assert caught.value.error_dict["checked"][0].code == "not_checked"
    assert not RosterConfirmation.objects.exists()


def test_confirming_a_list_that_changed_since_review_is_refused(world, roster):
    seen = roster.version
    enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=coordinator(world), roster=roster, checked=True, expected_version=seen)
    assert caught.value.code == "roster_changed"
    assert "变动" in caught.value.messages[0]
    assert Roster.objects.get(pk=roster.pk).state == RosterState.OPEN


def test_a_confirmed_roster_cannot_be_confirmed_again(world, roster):
    roster_confirm(actor=coordinator(world), roster=roster, checked=True)
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=coordinator(world), roster=roster, checked=True)
    assert caught.value.code == "roster_locked"
    assert RosterConfirmation.objects.count() == 1


@pytest.mark.parametrize("state", [RosterState.BILLED, RosterState.SETTLED])
def test_a_billed_roster_cannot_be_confirmed(world, roster, state):
    Roster.objects.filter(pk=roster.pk).update(state=state)
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=coordinator(world), roster=roster, checked=True)
    assert caught.value.code == "roster_locked"


def test_edits_after_confirmation_are_refused_and_the_snapshot_stays(world, roster):
    confirmation = roster_confirm(actor=coordinator(world), roster=roster, checked=True)
    enrollment = Enrollment.objects.get(student=roster.students[3])
    with pytest.raises(ValidationError) as caught:
        enrollment_remove(actor=coordinator(world), enrollment=enrollment, reason="疑似毕业")
    assert caught.value.code == "roster_locked"
    with pytest.raises(ValidationError):
        enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    assert ConfirmationLine.objects.filter(confirmation=confirmation).count() == 4


def test_confirming_a_large_school_freezes_every_line(world):
    StudentFactory.reset_sequence()
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    from enrollment.models import Student
    from tests.factories import identity_number

    Student.objects.bulk_create([
        Student(
            identity_number=identity_number(birth=datetime.date(2010, 1, 1) + datetime.timedelta(days=i % 300)),
            name=f"学生{chinese_digits(i)}", sex="M", birth_date=datetime.date(2010, 1, 1), school=world.school, grade=3,
        )
        for i in range(400)
    ], ignore_conflicts=True)
    count = Student.objects.filter(school=world.school).count()
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    roster.refresh_from_db()
    confirmation = roster_confirm(actor=coordinator(world), roster=roster, checked=True)
    assert confirmation.lines.count() == count
    assert confirmation.total_amount == 200 * count


def test_the_preview_shows_count_times_fee_exempt_other_channels_and_removed(world, roster):
    from enrollment.selectors import roster_preview

    preview = roster_preview(roster=roster)
    assert (preview.paying_count, preview.fee_standard, preview.amount) == (3, 200, 600)
    assert preview.exempt_by_category == {"低保人员": 1}
    assert preview.other_channels == {"村民委员会": 1}
    assert preview.removed_count == 1
    assert preview.version == roster.version


def test_the_preview_flags_only_what_the_evidence_says(world):
    from enrollment.selectors import roster_preview
    from graduates.models import GraduateFeed, GraduateRecord

    world.school.graduation_date = datetime.date(2026, 7, 1)
    world.school.save()
    final = StudentFactory(school=world.school, grade=world.school.final_grade, name="毕业班")
    old = StudentFactory(school=world.school, birth_date=datetime.date(1990, 1, 1), name="超龄")
    fed = StudentFactory(school=world.school, name="名单中")
    ordinary = StudentFactory(school=world.school, name="普通")
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    feed = GraduateFeed.objects.create(source="school_roll", received_via="admin", checksum="x" * 64)
    GraduateRecord.objects.create(
        feed=feed, row_number=2, identity_number=fed.identity_number, name=fed.name, school_code=world.school.code,
        school=world.school, student=fed, graduation_date=datetime.date(2026, 7, 1),
    )
    suspects = {s.student_id: s.reasons for s in roster_preview(roster=roster).suspected_graduates}
    # An age alone is no evidence: students older than usual are students.
    assert set(suspects) == {final.pk, fed.pk}
    assert ordinary.pk not in suspects and old.pk not in suspects
    assert any("本校已于2026-07-01毕业" in r for r in suspects[final.pk])
    assert any("毕业生数据" in r for r in suspects[fed.pk])


def test_final_grade_students_are_students_until_the_school_graduates(world):
    from enrollment.selectors import roster_preview

    final = StudentFactory(school=world.school, grade=world.school.final_grade, name="毕业班")
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    world.school.graduation_date = timezone.localdate() + datetime.timedelta(days=30)
    world.school.save()
    assert roster_preview(roster=roster).suspected_graduates == []

    world.school.graduation_date = timezone.localdate()
    world.school.save()
    assert [s.student_id for s in roster_preview(roster=roster).suspected_graduates] == [final.pk]


def test_the_preview_lists_students_enrolled_last_year_but_not_this_year(world):
    from enrollment.models import InsuranceYear
    from enrollment.selectors import roster_preview

    last_year = InsuranceYear.objects.create(
        city=world.city, label="2026", coverage_start=world.year.coverage_start.replace(year=world.year.coverage_start.year - 1),
        coverage_end=world.year.coverage_end.replace(year=world.year.coverage_end.year - 1), fee_standard=180,
        window_start=world.year.window_start, window_end=world.year.window_end, collection_route="bank_debit",
    )
    stayed, gone = StudentFactory.create_batch(2, school=world.school)
    for student in (stayed, gone):
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=last_year)
    enrollment_refresh(actor=Actor.job("t"), student=stayed, insurance_year=world.year)
    preview = roster_preview(roster=roster_get_or_create(school=world.school, insurance_year=world.year))
    assert [row["student_id"] for row in preview.removed_since_last_year] == [gone.pk]
