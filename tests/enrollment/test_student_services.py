"""Registering students one by one: identity checks, other schools, the window, the roster."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import AuditEvent, Enrollment, Student
from enrollment.services.common import Actor
from enrollment.services.students import student_create, student_set_status, student_update
from tests import files


def _data(seq=1, **overrides):
    row = files.student_row(seq)
    return {"name": row[0], "identity_number": row[1], "sex": "M" if row[2] == "男" else "F",
            "birth_date": datetime.date.fromisoformat(row[3]), "grade": 5, "class_name": "5班", **overrides}


def _actor(world):
    return Actor(user=world.coordinator, source="portal")


def test_created_student_is_enrolled_for_the_current_year_and_audited(world):
    student = student_create(actor=_actor(world), school=world.school, data=_data())
    enrollment = Enrollment.objects.get(student=student)
    assert enrollment.insurance_year == world.year and enrollment.fee_due == world.year.fee_standard
    assert AuditEvent.objects.filter(action="student_create", student=student).exists()


def test_birth_date_and_sex_must_agree_with_the_number(world):
    data = _data(birth_date=datetime.date(2011, 1, 1))
    data["sex"] = "F" if data["sex"] == "M" else "M"
    with pytest.raises(ValidationError) as info:
        student_create(actor=_actor(world), school=world.school, data=data)
    assert set(info.value.message_dict) >= {"birth_date"}
    assert not Student.objects.exists()


def test_invalid_number_is_refused_with_its_reason(world):
    data = _data()
    data["identity_number"] = data["identity_number"][:-1] + ("1" if data["identity_number"][-1] != "1" else "2")
    with pytest.raises(ValidationError) as info:
        student_create(actor=_actor(world), school=world.school, data=data)
    assert "校验位" in info.value.message_dict["identity_number"][0]


def test_student_of_another_school_is_refused_never_moved(world):
    other = student_create(actor=Actor(user=world.other_coordinator, source="portal"), school=world.other_school, data=_data(2))
    with pytest.raises(ValidationError) as info:
        student_create(actor=_actor(world), school=world.school, data=_data(2))
    assert "其他学校" in info.value.message_dict["identity_number"][0]
    other.refresh_from_db()
    assert other.school == world.other_school


def test_grade_beyond_the_school_final_grade_is_refused(world):
    with pytest.raises(ValidationError) as info:
        student_create(actor=_actor(world), school=world.school, data=_data(grade=13))
    assert "grade" in info.value.message_dict


def test_changes_outside_the_window_are_refused(world):
    student = student_create(actor=_actor(world), school=world.school, data=_data())
    world.year.window_start = datetime.date.today() - datetime.timedelta(days=90)
    world.year.window_end = datetime.date.today() - datetime.timedelta(days=1)
    world.year.save()
    with pytest.raises(ValidationError) as info:
        student_update(actor=_actor(world), student=student, data={**_data(), "class_name": "6班"})
    assert "不在申报缴费期内" in " ".join(info.value.messages)
    student.refresh_from_db()
    assert student.class_name == "5班"


def test_update_records_the_change(world):
    student = student_create(actor=_actor(world), school=world.school, data=_data())
    student_update(actor=_actor(world), student=student, data={**_data(), "class_name": "6班"})
    event = AuditEvent.objects.get(action="student_update", student=student)
    assert event.changes == {"class_name": ["5班", "6班"]}


def test_left_student_comes_off_the_paying_roster(world):
    student = student_create(actor=_actor(world), school=world.school, data=_data())
    student_set_status(actor=_actor(world), student=student, status="left", on=datetime.date.today())
    enrollment = Enrollment.objects.get(student=student)
    assert enrollment.status == "removed" and enrollment.fee_due == 0
