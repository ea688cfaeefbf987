"""manage.py import_students: exit code and report path."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from enrollment.models import Student
from tests import files


def test_command_imports_a_good_file(world, tmp_path, capsys):
    path = tmp_path / "students.xlsx"
    path.write_bytes(files.xlsx(files.rows(4)))
    call_command("import_students", world.school.code, str(path))
    assert Student.objects.filter(school=world.school).count() == 4
    assert "新登记4" in capsys.readouterr().out


def test_command_exits_non_zero_with_the_report_path_when_rows_are_wrong(world, tmp_path):
    data = files.rows(3)
    data[1][4] = 99
    path = tmp_path / "students.csv"
    path.write_bytes(files.csv_bytes(data))
    with pytest.raises(CommandError) as info:
        call_command("import_students", world.school.code, str(path))
    message = str(info.value)
    assert "错误报告" in message and message.strip().endswith(".xlsx")
    assert Student.objects.count() == 0


def test_command_refuses_a_bad_file_with_its_reason(world, tmp_path):
    # CommandError is what makes manage.py exit with status 1.
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"not a workbook at all")
    with pytest.raises(CommandError) as info:
        call_command("import_students", world.school.code, str(path))
    assert "不是 Excel 工作簿" in str(info.value)


def test_command_for_an_unknown_school_fails(world, tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(files.csv_bytes(files.rows(1)))
    with pytest.raises(CommandError, match="NO-SUCH-SCHOOL"):
        call_command("import_students", "NO-SUCH-SCHOOL", str(path))
