"""Bad files: each is refused with a message saying what is wrong, and nothing is written."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.models import AuditEvent, Enrollment, Job, Student
from enrollment.services.common import Actor
from enrollment.services.students import MODE_STRICT, student_import_start
from tests import files


def _import(world, name, content, mode=MODE_STRICT, django_capture_on_commit_callbacks=None):
    upload = SimpleUploadedFile(name, content)
    return student_import_start(actor=Actor(user=world.coordinator, source="portal"), school=world.school, upload=upload, mode=mode, run_now=True)


@pytest.mark.parametrize("case", files.bad_files(), ids=lambda c: c[0])
def test_bad_file_is_refused_with_a_clear_message_and_nothing_written(world, case):
    _case, name, content, expected = case
    content = content() if callable(content) else content
    events = AuditEvent.objects.count()
    try:
        job = _import(world, name, content)
    except Exception as exc:  # refused before a job exists (size)
        assert expected in " ".join(getattr(exc, "messages", [str(exc)]))
    else:
        assert job.state == Job.State.FAILED
        assert expected in job.error, job.error
    assert Student.objects.count() == 0
    assert Enrollment.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_file_over_the_size_limit_is_refused_before_it_is_stored(world, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    with pytest.raises(Exception) as info:
        _import(world, "students.xlsx", files.xlsx(files.rows(50)))
    assert "超过上限" in " ".join(info.value.messages)
    assert Job.objects.count() == 0


def test_more_rows_than_allowed_is_refused(world, settings):
    settings.IMPORT_MAX_ROWS = 5
    job = _import(world, "students.xlsx", files.xlsx(files.rows(6)))
    assert job.state == Job.State.FAILED
    assert "超过单次导入上限5行" in job.error
    assert Student.objects.count() == 0


def test_identity_number_stored_as_a_number_says_excel_lost_digits(world):
    data = files.rows(2)
    data[1][1] = int(data[1][1][:17] + "0") if data[1][1][-1] != "X" else 440104201204010010
    job = _import(world, "students.xlsx", files.xlsx(data, id_as_text=False))
    assert job.state == Job.State.FAILED
    errors = job.result["errors"]
    assert errors[0]["row"] == 3
    assert "文本" in errors[0]["message"] and "丢失" in errors[0]["message"]
    assert Student.objects.count() == 0


def test_scientific_notation_in_csv_is_reported_like_a_number(world):
    data = files.rows(1)
    data[0][1] = "4.40104E+17"
    job = _import(world, "students.csv", files.csv_bytes(data))
    assert "科学计数法" in job.result["errors"][0]["message"]


def test_error_report_repeats_the_rejected_rows_with_the_reason(world):
    from openpyxl import load_workbook

    data = files.rows(3)
    data[1][2] = "女" if data[1][2] == "男" else "男"
    job = _import(world, "students.xlsx", files.xlsx(data))
    sheet = load_workbook(io.BytesIO(job.output_file.read())).active
    lines = list(sheet.values)
    assert lines[0][:3] == ("行号", "错误列", "错误说明")
    assert lines[1][0] == 3 and lines[1][1] == "性别"
    assert "性别与证件号码不一致" in lines[1][2]
    assert lines[1][3:5] == tuple(data[1][:2])
