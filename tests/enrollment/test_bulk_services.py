"""Set-based services of the core: many rows changed by the core's rules, the rows given as a SELECT."""

import datetime
from decimal import Decimal

import pytest

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    Roster,
    Student,
    StudentStatus,
)
from enrollment.services import bulk
from enrollment.services.common import Actor
from tests.api.data import enroll
from tests.factories import InsuranceYearFactory, StudentFactory

JOB = Actor.job("nightly job")


def values(columns: str, *rows) -> bulk.RowSet:
    """A RowSet of literal rows, as a caller's temporary table would give them."""
    width = len(rows[0])
    placeholders = ", ".join("(" + ", ".join(["%s"] * width) + ")" for _row in rows)
    return bulk.RowSet(f"SELECT * FROM (VALUES {placeholders}) v({columns})", tuple(v for row in rows for v in row))


@pytest.fixture
def students(world):
    return [StudentFactory(school=world.school) for _ in range(3)]


def test_students_graduate_marks_them_graduated_and_audits_only_the_rows_asked(world, students):
    first, second, _third = students
    day = datetime.date(2026, 7, 1)
    bulk.students_graduate(
        rows=values("student_id, graduation_date, audited", (first.pk, day, True), (second.pk, day, False)),
        actor=JOB, note="graduated by the feed",
    )
    first.refresh_from_db()
    assert first.status == StudentStatus.GRADUATED and first.status_changed_on == day
    assert Student.objects.get(pk=second.pk).status == StudentStatus.GRADUATED
    assert Student.objects.get(pk=_third.pk).status == StudentStatus.IN_SCHOOL
    event = AuditEvent.objects.get(action="student_graduated")
    assert (event.object_id, event.student_id, event.school_id) == (first.pk, first.pk, world.school.pk)
    assert (event.model, event.source, event.actor_label, event.note) == ("student", "job", "nightly job", "graduated by the feed")
    assert event.changes == {"status": ["in_school", "graduated"]}


def test_students_graduate_leaves_a_student_already_graduated_as_they_are(world, students):
    student = students[0]
    Student.objects.filter(pk=student.pk).update(status=StudentStatus.GRADUATED, status_changed_on=datetime.date(2025, 7, 1))
    bulk.students_graduate(
        rows=values("student_id, graduation_date, audited", (student.pk, datetime.date(2026, 7, 1), True)),
        actor=JOB, note="",
    )
    assert Student.objects.get(pk=student.pk).status_changed_on == datetime.date(2025, 7, 1)
    assert not AuditEvent.objects.filter(action="student_graduated").exists()


def test_enrollments_deregister_changes_registered_enrollments_only_with_one_audit_row_each(world, students):
    roster = Roster.objects.create(school=world.school, insurance_year=world.year)
    registered = enroll(students[0], world.year)
    removed = enroll(students[1], world.year, status=EnrollmentStatus.REMOVED)
    bulk.enrollments_deregister(
        rows=values(
            "enrollment_id, roster_id, status_reason, note",
            (registered.pk, roster.pk, "left school " + "x" * 300, "stopped"),
            (removed.pk, roster.pk, "left school", "stopped"),
        ),
        actor=JOB, action="graduate_deregistered",
    )
    registered.refresh_from_db()
    assert registered.status == EnrollmentStatus.DEREGISTERED
    assert len(registered.status_reason) == Enrollment._meta.get_field("status_reason").max_length
    assert Enrollment.objects.get(pk=removed.pk).status == EnrollmentStatus.REMOVED
    event = AuditEvent.objects.get(action="graduate_deregistered")
    assert (event.object_id, event.roster_id, event.student_id, event.model) == (
        registered.pk, roster.pk, students[0].pk, "enrollment"
    )
    assert event.changes == {"status": ["registered", "deregistered"]} and event.note == "stopped"


def test_rosters_bump_moves_each_named_roster_one_version_whatever_the_repeats(world):
    roster = Roster.objects.create(school=world.school, insurance_year=world.year)
    untouched = Roster.objects.create(school=world.other_school, insurance_year=world.year)
    assert bulk.rosters_bump(rows=values("roster_id", (roster.pk,), (roster.pk,), (None,))) == 1
    assert Roster.objects.get(pk=roster.pk).version == roster.version + 1
    assert Roster.objects.get(pk=untouched.pk).version == untouched.version


def test_charge_corrections_raise_one_open_correction_per_enrollment_and_reason(world, students):
    charged = enroll(students[0], world.year)
    free = enroll(students[1], world.year)
    rows = values("enrollment_id, amount", (charged.pk, Decimal("-380.00")), (free.pk, Decimal("0.00")))
    assert bulk.charge_corrections_raise(rows=rows, reason=ChargeCorrection.Reason.GRADUATE, detail="run 1") == 1
    assert bulk.charge_corrections_raise(rows=rows, reason=ChargeCorrection.Reason.GRADUATE, detail="run 2") == 0
    correction = ChargeCorrection.objects.get()
    assert (correction.enrollment_id, correction.amount, correction.state, correction.detail) == (
        charged.pk, Decimal("-380.00"), ChargeCorrection.State.PENDING, "run 1"
    )


def test_rosters_lock_takes_the_roster_of_the_students_school_and_of_the_school_holding_the_enrollment(world, students):
    own = Roster.objects.create(school=world.school, insurance_year=world.year)
    holder = Roster.objects.create(school=world.other_school, insurance_year=world.year)
    Roster.objects.create(school=world.other_school, insurance_year=InsuranceYearFactory(city=world.city, label="2028"))
    moved = students[0]
    Enrollment.objects.create(student=moved, insurance_year=world.year, school=world.other_school)
    locked = bulk.rosters_lock(students=values(
        "student_id, school_id, insurance_year_id", (moved.pk, world.school.pk, world.year.pk)
    ))
    assert locked == sorted([own.pk, holder.pk])


def test_audit_rows_write_records_the_actor_and_each_row(world, students):
    roster = Roster.objects.create(school=world.school, insurance_year=world.year)
    written = bulk.audit_rows_write(
        rows=values(
            "object_id, school_id, student_id, roster_id, note",
            (students[0].pk, world.school.pk, students[0].pk, roster.pk, "first"),
            (students[1].pk, world.school.pk, students[1].pk, roster.pk, "second"),
        ),
        actor=JOB, action=AuditEvent.Action.STUDENT_UPDATE, model=Student, changes={"checked": [False, True]},
    )
    assert written == 2
    events = AuditEvent.objects.filter(action=AuditEvent.Action.STUDENT_UPDATE).order_by("note")
    assert [(e.student_id, e.note, e.actor_label, e.source) for e in events] == [
        (students[0].pk, "first", "nightly job", "job"), (students[1].pk, "second", "nightly job", "job"),
    ]
    assert events[0].changes == {"checked": [False, True]}


def test_rosters_lock_of_years_takes_every_roster_of_those_years_and_no_other(world):
    this_year = [Roster.objects.create(school=school, insurance_year=world.year) for school in (world.school, world.other_school)]
    Roster.objects.create(school=world.school, insurance_year=InsuranceYearFactory(city=world.city, label="2028"))
    locked = bulk.rosters_lock_of_years(years=values("insurance_year_id", (world.year.pk,)))
    assert locked == sorted(r.pk for r in this_year)
