import datetime
from decimal import Decimal

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    Roster,
    RosterState,
    StudentStatus,
)
from graduates.models import DeregistrationRun, GraduateFeed, GraduateRecord
from graduates.services import deregistration_run
from tests.factories import StudentFactory, identity_number
from tests.graduates.conftest import GRADUATION, enrolled_student, receive, record

Outcome = GraduateRecord.Outcome


def _run():
    return deregistration_run(triggered_by="test", collect_inbox=False)


def test_graduate_on_open_roster_in_window_is_removed_and_the_school_sees_why(world, next_year):
    student, enrollment = enrolled_student(world.school, next_year)
    stays, _ = enrolled_student(world.school, next_year)
    roster = Roster.objects.get(school=world.school, insurance_year=next_year)
    feed = receive([record(student)])

    run = _run()

    enrollment.refresh_from_db()
    student.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DEREGISTERED
    assert "毕业生停保" in enrollment.status_reason and GRADUATION.isoformat() in enrollment.status_reason
    assert (student.status, student.status_changed_on) == (StudentStatus.GRADUATED, GRADUATION)
    assert Roster.objects.get(pk=roster.pk).version == roster.version + 1
    assert Enrollment.objects.get(student=stays).status == EnrollmentStatus.REGISTERED
    rec = GraduateRecord.objects.get(feed=feed)
    assert (rec.outcome, rec.student, rec.enrollment, rec.insurance_year, rec.run) == (Outcome.STOPPED, student, enrollment, next_year, run)
    feed.refresh_from_db()
    assert feed.state == GraduateFeed.State.DONE and feed.processed_at is not None
    assert (run.state, run.matched, run.stopped, run.exceptions, run.feeds_processed) == ("done", 1, 1, 0, 1)
    event = AuditEvent.objects.get(action="graduate_deregistered")
    assert (event.model, event.object_id, event.student, event.roster_id, event.school) == ("enrollment", enrollment.pk, student, roster.pk, world.school)
    assert event.actor_label == f"毕业生停保 run {run.pk} / feed {feed.pk}"
    assert event.changes == {"status": ["registered", "deregistered"]}


def test_names_are_compared_after_normalising_spaces_and_full_width(world, next_year):
    student, enrollment = enrolled_student(world.school, next_year, name="阿依古丽·买买提")
    latin, latin_enrollment = enrolled_student(world.school, next_year, name="Anna Li")
    receive([record(student, name="阿依古丽・买买提 "), record(latin, name="Ａｎｎａ　Ｌｉ")])
    run = _run()
    assert run.stopped == 2
    assert set(GraduateRecord.objects.values_list("outcome", flat=True)) == {Outcome.STOPPED}


def test_records_that_cannot_be_stopped_are_exceptions_for_the_school(world, next_year):
    mismatch, mismatch_enrollment = enrolled_student(world.school, next_year, name="张三")
    elsewhere, elsewhere_enrollment = enrolled_student(world.other_school, next_year)
    left = StudentFactory(school=world.school, status=StudentStatus.LEFT)
    unknown = identity_number()
    receive(
        [
            record(mismatch, name="张珊"),
            record(elsewhere, school_code=world.school.code),
            record(left),
            {**record(left), "identity_number": unknown, "name": "查无此人"},
        ]
    )

    run = _run()

    outcomes = dict(GraduateRecord.objects.values_list("name", "outcome"))
    assert outcomes == {
        "张珊": Outcome.NAME_MISMATCH,
        elsewhere.name: Outcome.OTHER_SCHOOL,
        left.name: Outcome.ALREADY_LEFT,
        "查无此人": Outcome.UNKNOWN_IDENTITY,
    }
    # Nothing was changed for any of them.
    assert set(Enrollment.objects.values_list("status", flat=True)) == {EnrollmentStatus.REGISTERED}
    mismatch.refresh_from_db()
    assert mismatch.status == StudentStatus.IN_SCHOOL
    assert (run.matched, run.stopped, run.exceptions) == (2, 0, 4)
    assert run.exceptions_per_school == {world.school.code: 3, world.other_school.code: 1}
    assert not AuditEvent.objects.filter(action__in=["graduate_deregistered", "student_graduated"]).exists()
    # The student found at another school is shown to that school, whose roster would charge them.
    assert GraduateRecord.objects.get(outcome=Outcome.OTHER_SCHOOL).school == world.other_school


def test_outside_the_window_an_open_roster_is_not_changed_only_the_student_status(world, next_year):
    next_year.window_start = datetime.date.today() + datetime.timedelta(days=10)
    next_year.window_end = datetime.date.today() + datetime.timedelta(days=40)
    next_year.save()
    student, enrollment = enrolled_student(world.school, next_year)
    roster = Roster.objects.get(school=world.school, insurance_year=next_year)
    receive([record(student)])

    run = _run()

    enrollment.refresh_from_db()
    student.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REGISTERED
    assert Roster.objects.get(pk=roster.pk).version == roster.version
    assert student.status == StudentStatus.GRADUATED
    assert GraduateRecord.objects.get().outcome == Outcome.WINDOW_CLOSED
    assert run.stopped == 0
    assert AuditEvent.objects.filter(action="student_graduated", student=student).count() == 1


def test_graduate_without_next_year_enrollment_is_only_marked_graduated(world, next_year):
    student = StudentFactory(school=world.school)
    receive([record(student)])
    _run()
    student.refresh_from_db()
    assert student.status == StudentStatus.GRADUATED
    assert GraduateRecord.objects.get().outcome == Outcome.NOT_ENROLLED


def test_graduate_on_confirmed_roster_is_left_for_bureau_staff_and_shown_to_the_school(world, next_year):
    from graduates.selectors import confirmed_roster_cases, exceptions_for_school

    student, enrollment = enrolled_student(world.school, next_year, roster_state=RosterState.CONFIRMED)
    receive([record(student)])
    run = _run()
    enrollment.refresh_from_db()
    student.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REGISTERED
    assert student.status == StudentStatus.GRADUATED
    rec = GraduateRecord.objects.get()
    assert rec.outcome == Outcome.CONFIRMED_ROSTER
    assert list(exceptions_for_school(school=world.school)) == [rec]
    assert list(confirmed_roster_cases(user=world.district_staff)) == [rec]
    assert list(confirmed_roster_cases(user=world.other_district_staff)) == []
    assert not ChargeCorrection.objects.exists()
    assert run.exceptions == 1


def test_graduate_on_billed_or_settled_roster_gets_one_refund(world, next_year):
    billed, billed_enrollment = enrolled_student(world.school, next_year, roster_state=RosterState.BILLED)
    settled, settled_enrollment = enrolled_student(world.other_school, next_year, roster_state=RosterState.SETTLED, fee=Decimal("140.00"))
    receive([record(billed), record(settled)])
    run = _run()

    corrections = {c.enrollment_id: c for c in ChargeCorrection.objects.all()}
    assert set(corrections) == {billed_enrollment.pk, settled_enrollment.pk}
    assert corrections[billed_enrollment.pk].amount == Decimal("-200.00")
    assert corrections[settled_enrollment.pk].amount == Decimal("-140.00")
    assert {c.reason for c in corrections.values()} == {ChargeCorrection.Reason.GRADUATE}
    assert set(GraduateRecord.objects.values_list("outcome", flat=True)) == {Outcome.REFUND}
    assert run.stopped == 2

    # The same graduates reported again in a later feed: nothing more is raised.
    receive([record(billed, class_name="重报"), record(settled, class_name="重报")], source="vocational")
    second = _run()
    assert ChargeCorrection.objects.count() == 2
    assert set(GraduateRecord.objects.filter(run=second).values_list("outcome", flat=True)) == {Outcome.ALREADY_STOPPED}
    assert AuditEvent.objects.filter(action="graduate_deregistered").count() == 2


def test_a_second_run_finds_nothing_to_do(world, next_year):
    student, _enrollment = enrolled_student(world.school, next_year)
    receive([record(student)])
    _run()
    again = _run()
    assert (again.feeds_processed, again.record_count, again.stopped) == (0, 0, 0)
    assert AuditEvent.objects.filter(action="graduate_deregistered").count() == 1


def test_graduation_picks_the_year_whose_coverage_starts_after_it(world, next_year):
    from tests.factories import InsuranceYearFactory

    later = InsuranceYearFactory(
        city=world.city,
        label="later",
        coverage_start=next_year.coverage_end + datetime.timedelta(days=1),
        coverage_end=next_year.coverage_end + datetime.timedelta(days=366),
    )
    student, enrollment = enrolled_student(world.school, next_year)
    Enrollment.objects.create(student=student, insurance_year=later, school=world.school, fee_due=Decimal("200.00"))
    receive([record(student)])
    _run()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DEREGISTERED
    assert Enrollment.objects.get(student=student, insurance_year=later).status == EnrollmentStatus.REGISTERED


def test_run_records_duration_and_finishes(world, next_year):
    student, _ = enrolled_student(world.school, next_year)
    receive([record(student)])
    run = _run()
    assert run.state == DeregistrationRun.State.DONE
    assert run.finished_at is not None and run.duration_seconds >= 0
