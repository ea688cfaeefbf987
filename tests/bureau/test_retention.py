"""Retention (PIPL): students long gone are pseudonymised, everything else is left alone."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from bureau.retention import apply_retention
from bureau.tasks import apply_retention_task
from enrollment import identity
from enrollment.models import AuditEvent, Enrollment, Exemption, ExemptionCategory, Student, StudentStatus
from enrollment.retention import ERASED_NAME, pseudonym_identity_number
from graduates.models import GraduateFeed, GraduateRecord
from tests.factories import InsuranceYearFactory, StudentFactory

TODAY = datetime.date(2027, 3, 1)


@pytest.fixture
def years(world):
    def year(label, end_year):
        return InsuranceYearFactory(
            city=world.city, label=label,
            coverage_start=datetime.date(end_year, 1, 1), coverage_end=datetime.date(end_year, 12, 31),
            window_start=datetime.date(end_year - 1, 9, 1), window_end=datetime.date(end_year - 1, 12, 31),
        )

    return {"old": year("2022", 2022), "recent": year("2025", 2025)}


def _student(world, year, status=StudentStatus.GRADUATED, **fields):
    student = StudentFactory(school=world.school, status=status, **fields)
    Enrollment.objects.create(student=student, insurance_year=year, school=world.school)
    return student


def test_graduate_whose_coverage_ended_over_three_years_ago_is_pseudonymised(world, years):
    student = _student(world, years["old"], name="张三", class_name="3班")
    original = student.identity_number

    assert apply_retention(today=TODAY) == 1

    student.refresh_from_db()
    assert student.name == ERASED_NAME
    assert student.class_name == ""
    assert student.identity_number == pseudonym_identity_number(student.pk)
    assert student.identity_number != original
    assert student.enrollments.count() == 1  # the statistics stay true
    with pytest.raises(ValidationError):
        identity.validate(student.identity_number)  # can never pass for a real person's number


def test_students_still_in_school_or_recently_covered_are_kept(world, years):
    in_school = _student(world, years["old"], status=StudentStatus.IN_SCHOOL)
    recent = _student(world, years["recent"])
    left_later = _student(world, years["old"])
    Enrollment.objects.create(student=left_later, insurance_year=years["recent"], school=world.school)

    assert apply_retention(today=TODAY) == 0
    for student in (in_school, recent, left_later):
        before = student.identity_number
        student.refresh_from_db()
        assert student.identity_number == before and student.name != ERASED_NAME


def test_a_student_who_left_without_any_enrollment_counts_from_the_status_change(world):
    gone = StudentFactory(school=world.school, status=StudentStatus.LEFT, status_changed_on=datetime.date(2023, 2, 1))
    lately = StudentFactory(school=world.school, status=StudentStatus.LEFT, status_changed_on=datetime.date(2024, 6, 1))
    assert apply_retention(today=TODAY) == 1
    gone.refresh_from_db()
    lately.refresh_from_db()
    assert gone.name == ERASED_NAME and lately.name != ERASED_NAME


def test_pseudonymisation_is_audited_without_the_old_values(world, years):
    student = _student(world, years["old"], name="李四")
    original = student.identity_number
    apply_retention(today=TODAY)
    event = AuditEvent.objects.get(action="pseudonymise", student=student)
    assert event.source == AuditEvent.Source.JOB
    assert event.school_id == world.school.pk
    assert original not in str(event.changes) and "李四" not in str(event.changes)


def test_copies_of_the_name_and_number_elsewhere_are_cleared_too(world, years):
    student = _student(world, years["old"], name="王五")
    number = student.identity_number
    category = ExemptionCategory.objects.create(city=world.city, code="dibao-test", name="低保")
    Exemption.objects.create(identity_number=number, name="王五", category=category, source="civil_affairs",
                             valid_from=datetime.date(2021, 1, 1))
    feed = GraduateFeed.objects.create(source="school_roll", received_via="api", checksum="a" * 64)
    GraduateRecord.objects.create(feed=feed, row_number=1, identity_number=number, name="王五",
                                  school_code=world.school.code, graduation_date=datetime.date(2022, 7, 1))
    AuditEvent.objects.create(source="portal", action=AuditEvent.Action.STUDENT_UPDATE, model="student", object_id=student.pk,
                              student=student, changes={"name": ["王五", "王五"], "grade": [5, 6]})

    apply_retention(today=TODAY)

    pseudonym = pseudonym_identity_number(student.pk)
    assert not Exemption.objects.filter(identity_number=number).exists()
    assert Exemption.objects.get(identity_number=pseudonym).name == ERASED_NAME
    record = GraduateRecord.objects.get(feed=feed)
    assert (record.identity_number, record.name) == (pseudonym, ERASED_NAME)
    edit = AuditEvent.objects.get(action=AuditEvent.Action.STUDENT_UPDATE, student=student)
    assert edit.changes == {"name": [ERASED_NAME, ERASED_NAME], "grade": [5, 6]}


def test_running_the_job_twice_changes_nothing_the_second_time(world, years):
    students = [_student(world, years["old"]) for _ in range(3)]
    assert apply_retention(today=TODAY, batch_size=2) == 3
    snapshot = list(Student.objects.order_by("pk").values_list("identity_number", "name"))
    assert apply_retention(today=TODAY) == 0
    assert list(Student.objects.order_by("pk").values_list("identity_number", "name")) == snapshot
    assert AuditEvent.objects.filter(action="pseudonymise").count() == len(students)
    assert len({number for number, _name in snapshot}) == len(snapshot)


def test_the_celery_task_and_the_command_run_the_same_rule(world, capsys):
    today = timezone.localdate()
    long_ago = InsuranceYearFactory(
        city=world.city, label="long-ago",
        coverage_start=today.replace(year=today.year - 6, month=1, day=1),
        coverage_end=today.replace(year=today.year - 6, month=12, day=31),
        window_start=today.replace(year=today.year - 7, month=9, day=1),
        window_end=today.replace(year=today.year - 7, month=12, day=31),
    )
    _student(world, long_ago)
    _student(world, long_ago)
    call_command("apply_retention", "--dry-run")
    assert capsys.readouterr().out.startswith("2 students")
    assert not Student.objects.filter(name=ERASED_NAME).exists()
    assert apply_retention_task.delay().get() == 2
    assert Student.objects.filter(name=ERASED_NAME).count() == 2


def test_the_retention_schedule_is_created_once_however_often_the_command_runs(db):
    call_command("setup_retention_schedule")
    call_command("setup_retention_schedule")
    task = PeriodicTask.objects.get(task="enrollment.apply_retention")
    assert task.enabled and task.crontab.day_of_month == "1"


def test_lapsed_exemption_entries_of_people_never_registered_are_pseudonymised(world):
    category = ExemptionCategory.objects.create(city=world.city, code="orphan-test", name="孤儿")
    lapsed = Exemption.objects.create(identity_number="440104200501010011", name="赵六", category=category,
                                      source="civil_affairs", valid_from=datetime.date(2020, 1, 1),
                                      valid_to=datetime.date(2022, 12, 31))
    current = Exemption.objects.create(identity_number="440104200501010038", name="钱七", category=category,
                                       source="civil_affairs", valid_from=datetime.date(2020, 1, 1))
    registered = StudentFactory(school=world.school)
    of_student = Exemption.objects.create(identity_number=registered.identity_number, name=registered.name,
                                          category=category, source="civil_affairs",
                                          valid_from=datetime.date(2020, 1, 1), valid_to=datetime.date(2022, 12, 31))

    apply_retention(today=TODAY)

    lapsed.refresh_from_db()
    current.refresh_from_db()
    of_student.refresh_from_db()
    assert (lapsed.identity_number, lapsed.name) == (f"000000E{lapsed.pk:011d}", ERASED_NAME)
    assert current.name == "钱七"
    assert of_student.identity_number == registered.identity_number  # follows its student's own rule
