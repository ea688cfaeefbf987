"""The school data stamp triggers bump exactly the schools a write changed what they show (migrations 0019 / 0007)."""

from enrollment.models import Enrollment, Student, StudentStatus
from enrollment.selectors import school_data_stamp
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from graduates.models import GraduateFeed, GraduateRecord
from tests.factories import StudentFactory


def _stamps(world):
    return school_data_stamp(school_id=world.school.pk), school_data_stamp(school_id=world.other_school.pk)


def _moved_student(world):
    """A student of the other school whose enrollment this year is on the first school's roster."""
    students = StudentFactory.create_batch(3, school=world.school)
    enrollments_refresh_bulk(actor=Actor.job("test"), roster=roster_get_or_create(school=world.school, insurance_year=world.year))
    Student.objects.filter(pk=students[0].pk).update(school=world.other_school)
    assert Enrollment.objects.get(student=students[0]).school_id == world.school.pk
    return students[0]


def test_a_status_change_bumps_the_students_school_only(world):
    student = _moved_student(world)
    school, other = _stamps(world)
    Student.objects.filter(pk=student.pk).update(status=StudentStatus.GRADUATED)
    after_school, after_other = _stamps(world)
    assert after_school == school and after_other != other


def test_a_shown_column_change_also_bumps_the_school_holding_the_enrollment(world):
    student = _moved_student(world)
    school, other = _stamps(world)
    Student.objects.filter(pk=student.pk).update(name="改名学生")
    after_school, after_other = _stamps(world)
    assert after_school != school and after_other != other


def test_a_record_update_bumps_its_old_and_new_schools_and_nothing_when_no_compared_column_changed(world):
    feed = GraduateFeed.objects.create(source="school_roll", received_via="inbox", file_name="f.csv", checksum="0" * 64,
                                       record_count=2)
    records = [
        GraduateRecord.objects.create(feed=feed, row_number=n, identity_number=f"44010420080101{n:03d}X", name=f"学生{n}",
                                      school_code="X", graduation_date="2026-06-30", school=world.school)
        for n in (1, 2)
    ]
    school, other = _stamps(world)
    GraduateRecord.objects.filter(pk__in=[r.pk for r in records]).update(class_name="")  # already ""
    assert _stamps(world) == (school, other)
    GraduateRecord.objects.filter(pk=records[0].pk).update(school=world.other_school)
    after_school, after_other = _stamps(world)
    assert after_school != school and after_other != other
