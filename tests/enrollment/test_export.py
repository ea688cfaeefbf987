"""Exports: identity numbers as text, masked unless asked for and logged, formulas neutralised."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from enrollment import identity
from enrollment.models import PersonalDataAccess, Student
from enrollment.services.common import Actor
from enrollment.services.students import student_create, students_export
from tests import files


def _add(world, seq, name):
    row = files.student_row(seq)
    return student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data={
        "name": name, "identity_number": row[1], "sex": "M" if row[2] == "男" else "F",
        "birth_date": datetime.date.fromisoformat(row[3]), "grade": 5, "class_name": "5班",
    })


def _rows(content):
    sheet = load_workbook(io.BytesIO(content)).active
    return list(sheet.iter_rows(values_only=True)), sheet


def test_roster_export_masks_numbers_and_neutralises_formulas(world):
    student = _add(world, 1, "张三")
    # Rows stored before the name rules refused such text must still leave as text, never as formulas.
    Student.objects.filter(pk=student.pk).update(name="@SUM(A1)", class_name="=1+1")
    _name, content = students_export(actor=Actor(user=world.coordinator, source="portal"), school=world.school, what="roster")
    rows, sheet = _rows(content)
    assert rows[1][0] == "'@SUM(A1)"
    assert rows[1][3] == "'=1+1"
    assert rows[1][1] == "*" * 14 + student.identity_number[-4:]
    assert sheet.cell(row=2, column=2).number_format == "@"
    assert not PersonalDataAccess.objects.exists()


def test_full_number_export_of_own_school_is_logged_with_count(world):
    student = _add(world, 1, "张三")
    _add(world, 2, "李四")
    _name, content = students_export(actor=Actor(user=world.coordinator, source="portal"), school=world.school, what="register", full_numbers=True)
    rows, _sheet = _rows(content)
    assert student.identity_number in [r[1] for r in rows]
    access = PersonalDataAccess.objects.get()
    assert access.user == world.coordinator and access.record_count == 2 and world.school.code in access.target


def test_full_numbers_of_another_school_are_refused(world):
    with pytest.raises(ValidationError):
        students_export(actor=Actor(user=world.other_coordinator, source="portal"), school=world.school, what="register", full_numbers=True)
    assert not PersonalDataAccess.objects.exists()


def test_register_export_downloaded_from_the_portal_is_masked(client, world):
    world.coordinator.save()
    student = _add(world, 1, "张三")
    client.force_login(world.coordinator, backend="enrollment.auth.MembershipBackend")
    response = client.get("/export/register.xlsx")
    rows, _sheet = _rows(response.content)
    assert student.identity_number not in str(rows)
    assert response["Content-Disposition"].startswith("attachment")


def test_the_register_and_roster_exports_carry_the_document_type(world):
    from python_calamine import CalamineWorkbook

    from enrollment.exports import register_workbook, roster_workbook
    from enrollment.models import Enrollment

    number = identity.generate(region="820000", birth=datetime.date(2012, 4, 1), sequence=3)
    student = student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data={
        "identity_number": number, "name": "澳门学生", "grade": 5, "sex": "男", "birth_date": "2012-04-01",
    })
    for content in (register_workbook([student], full_numbers=True),
                    roster_workbook(Enrollment.objects.filter(student=student).select_related("student"), full_numbers=True)):
        header, row = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()[:2]
        assert row[header.index("证件类型")] == "港澳台居民居住证"
