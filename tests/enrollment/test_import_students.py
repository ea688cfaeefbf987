"""Good imports: every variant of a usual school list lands, once, on the roster."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment import identity
from enrollment.models import AuditEvent, Enrollment, Job, Student
from enrollment.services.common import Actor
from enrollment.services.students import MODE_PARTIAL, student_import_start
from tests import files
from tests.factories import StudentFactory


def _import(world, name, content, mode="strict", school=None):
    return student_import_start(
        actor=Actor(user=world.coordinator, source="portal"), school=school or world.school,
        upload=SimpleUploadedFile(name, content), mode=mode, run_now=True,
    )


def test_good_file_registers_students_and_puts_them_on_the_roster(world):
    job = _import(world, "students.xlsx", files.xlsx(files.rows(20)))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["created"] == 20
    assert Student.objects.filter(school=world.school).count() == 20
    assert Enrollment.objects.filter(school=world.school, insurance_year=world.year).count() == 20
    assert job.percent == 100


def test_reimporting_the_same_file_changes_nothing(world):
    content = files.xlsx(files.rows(10))
    _import(world, "students.xlsx", content)
    before = list(Student.objects.order_by("pk").values())
    events = AuditEvent.objects.count()
    job = _import(world, "students.xlsx", content)
    assert job.result["created"] == 0 and job.result["updated"] == 0 and job.result["unchanged"] == 10
    assert list(Student.objects.order_by("pk").values()) == before
    assert Enrollment.objects.count() == 10
    assert AuditEvent.objects.count() == events + 1  # only the import itself is recorded


def test_reimport_with_a_changed_class_updates_that_student_only(world):
    data = files.rows(5)
    _import(world, "students.xlsx", files.xlsx(data))
    data[2][5] = "6班"
    job = _import(world, "students.xlsx", files.xlsx(data))
    assert job.result["updated"] == 1 and job.result["unchanged"] == 4
    assert Student.objects.get(identity_number=data[2][1]).class_name == "6班"


def test_strict_mode_imports_nothing_when_a_row_is_wrong(world):
    data = files.rows(5)
    data[3][4] = 15
    job = _import(world, "students.xlsx", files.xlsx(data))
    assert job.state == Job.State.FAILED
    assert "未导入任何学生" in job.error
    assert job.result["errors"] == [{"row": 5, "column": "年级", "message": "年级15超出本校年级范围（1至12）。"}]
    assert Student.objects.count() == 0


def test_partial_mode_imports_the_valid_rows_and_reports_the_others(world):
    data = files.rows(5)
    data[0][1] = data[0][1][:-1] + ("0" if data[0][1][-1] != "0" else "1")
    data[4][3] = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    job = _import(world, "students.xlsx", files.xlsx(data), mode=MODE_PARTIAL)
    assert job.state == Job.State.SUCCEEDED
    assert job.result["created"] == 3 and job.result["rejected_rows"] == 2
    messages = {e["row"]: e["message"] for e in job.result["errors"]}
    assert "校验位" in messages[2]
    assert "晚于今天" in messages[6]
    assert Student.objects.count() == 3


def test_duplicate_numbers_inside_the_file_are_reported_with_the_first_row(world):
    data = files.rows(3)
    data[2][1] = data[0][1]
    data[2][2:4] = data[0][2:4]
    job = _import(world, "students.xlsx", files.xlsx(data))
    assert job.result["errors"][0]["row"] == 4
    assert "与第2行的身份证号码重复" in job.result["errors"][0]["message"]


def test_student_of_another_school_is_reported_and_never_moved(world):
    data = files.rows(2)
    other = StudentFactory(school=world.other_school, identity_number=data[1][1], birth_date=datetime.date(2012, 4, 1), name="原校学生")
    job = _import(world, "students.xlsx", files.xlsx(data), mode=MODE_PARTIAL)
    assert job.result["created"] == 1
    assert "已在其他学校" in job.result["errors"][0]["message"]
    other.refresh_from_db()
    assert other.school == world.other_school and other.name == "原校学生"


def test_header_variants_in_any_order_and_a_title_row_are_understood(world):
    data = files.rows(2)
    header = ["学生姓名", "公民身份号码", "性别", "出生日期", "年级", "班别", "户口性质"]
    reordered = [[r[4], r[0], r[1], r[2], r[3], r[5], r[6]] for r in data]
    job = _import(world, "students.xlsx", files.xlsx(reordered, header=[header[i] for i in (4, 0, 1, 2, 3, 5, 6)], title_rows=[["越秀第一中学学生名单"]]))
    assert job.state == Job.State.SUCCEEDED, job.result
    assert Student.objects.count() == 2


def test_full_width_digits_spaces_and_lowercase_x_are_normalised(world):
    number = next(n for n in (identity.generate(region="440104", birth=datetime.date(2012, 4, 1), sequence=s) for s in range(1, 999)) if n.endswith("X"))
    typed = " ".join(number[:6]) + number[6:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x"
    row = ["王小明", typed, "男" if identity.sex(number) == "M" else "女", "2012-04-01", "五年级", "5班", "本市农村"]
    job = _import(world, "students.xlsx", files.xlsx([row]))
    assert job.state == Job.State.SUCCEEDED, job.result
    student = Student.objects.get()
    assert student.identity_number == number and student.grade == 5 and student.hukou_rural


def test_rare_characters_and_middle_dots_in_names_are_kept(world):
    data = files.rows(3)
    data[0][0] = "𠮷野家"
    data[1][0] = "阿依古丽•买买提"
    data[2][0] = "王\uf91b"  # a CJK compatibility ideograph is kept as registered, not folded
    _import(world, "students.xlsx", files.xlsx(data))
    assert set(Student.objects.values_list("name", flat=True)) == {"𠮷野家", "阿依古丽·买买提", "王\uf91b"}


def test_old_excel_xls_file_is_read(world):
    job = _import(world, "students.xls", files.xls(files.rows(3)))
    assert job.state == Job.State.SUCCEEDED, job.result
    assert sorted(Student.objects.values_list("name", flat=True)) == sorted(["学生一", "学生二", "学生三"])


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("gbk", False)])
def test_csv_in_utf8_or_gbk_with_or_without_bom_is_read(world, encoding, bom):
    job = _import(world, "students.csv", files.csv_bytes(files.rows(3), encoding=encoding, bom=bom))
    assert job.state == Job.State.SUCCEEDED, job.result
    assert sorted(Student.objects.values_list("name", flat=True)) == sorted(["学生一", "学生二", "学生三"])


def test_import_outside_the_window_is_refused(world):
    world.year.window_end = datetime.date.today() - datetime.timedelta(days=1)
    world.year.window_start = datetime.date.today() - datetime.timedelta(days=60)
    world.year.save()
    with pytest.raises(Exception) as info:
        _import(world, "students.xlsx", files.xlsx(files.rows(2)))
    assert "不在申报缴费期内" in " ".join(info.value.messages)
    assert Student.objects.count() == 0


def test_task_run_twice_imports_once(world, django_capture_on_commit_callbacks):
    from enrollment.tasks.students import import_students

    with django_capture_on_commit_callbacks(execute=True):
        job = student_import_start(actor=Actor(user=world.coordinator, source="portal"), school=world.school,
                                   upload=SimpleUploadedFile("s.xlsx", files.xlsx(files.rows(3))))
    import_students(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.result["created"] == 3
    assert AuditEvent.objects.filter(action="student_import").count() == 1


def test_next_years_list_with_leavers_and_newcomers_registers_each_newcomer_with_their_own_enrollment(world):
    from enrollment.models import Channel, ChannelRule

    ChannelRule.objects.create(insurance_year=world.year, order=1, condition="rural_hukou", channel=Channel.VILLAGE_COMMITTEE)
    _import(world, "last-year.xlsx", files.xlsx(files.rows(10)))
    kept = files.rows(6)
    kept[1][5] = "6班"
    # More newcomers than the register's leavers (4): the new students need ids beyond the first round.
    newcomers = [files.student_row(seq, hukou="本市农村" if seq % 2 else "本市城镇") for seq in range(20, 28)]
    job = _import(world, "this-year.xlsx", files.xlsx(kept + newcomers))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (8, 1, 5)
    for row in newcomers:
        enrollment = Enrollment.objects.get(student__identity_number=row[1], insurance_year=world.year)
        assert enrollment.school == world.school and enrollment.student.name == row[0]
        assert (enrollment.channel == Channel.VILLAGE_COMMITTEE) == (row[6] == "本市农村"), row
        created = AuditEvent.objects.get(action=AuditEvent.Action.ENROLLMENT_CREATE, object_id=str(enrollment.pk))
        assert created.student_id == enrollment.student_id
    assert Student.objects.filter(school=world.school).count() == 18


def _long(count: int) -> list[list]:
    # A thousand numbers per birth date (the sequence has three digits).
    return [files.student_row(n % 1000, birth=datetime.date(2012, 4, 1) + datetime.timedelta(days=n // 1000)) for n in range(count)]


def test_a_wrong_last_row_of_a_long_file_leaves_nothing_written_in_strict_mode(world):
    data = _long(2500)  # sent to the database in several chunks before the last row is checked
    data[-1][4] = 15
    job = _import(world, "students.xlsx", files.xlsx(data))
    assert job.state == Job.State.FAILED
    assert job.result["errors"] == [{"row": 2501, "column": "年级", "message": "年级15超出本校年级范围（1至12）。"}]
    assert not Student.objects.exists() and not Enrollment.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.STUDENT_IMPORT).exists()


def test_a_student_of_another_school_late_in_a_long_file_stops_a_strict_import_with_the_row_named(world):
    data = _long(2500)
    StudentFactory(school=world.other_school, identity_number=data[2400][1], birth_date=datetime.date(2012, 4, 3))
    job = _import(world, "students.xlsx", files.xlsx(data))
    assert job.state == Job.State.FAILED
    assert [e["row"] for e in job.result["errors"]] == [2402]
    assert "已在其他学校" in job.result["errors"][0]["message"]
    assert Student.objects.filter(school=world.school).count() == 0
    assert not Enrollment.objects.filter(school=world.school).exists()


def test_every_column_of_the_template_lands_in_its_own_field_on_create_and_on_update(world):
    header = ["姓名", "证件类型", "身份证号码", "性别", "出生日期", "年级", "班级", "户籍", "医疗救助", "公费医疗", "已有市民卡"]
    first, second = files.rows(2)
    rows = [
        [first[0], "居民身份证", first[1], first[2], first[3], 3, "3班", "本市农村", "民政", "否", "是"],
        [second[0], "", second[1], second[2], second[3], 7, "7班", "外省城镇", "", "是", "否"],
    ]
    expected = [
        {"document_type": "resident_id", "grade": 3, "class_name": "3班", "hukou_local": True, "hukou_rural": True,
         "medical_assistance": "civil_affairs", "public_funded_care": False, "has_citizen_card": True},
        {"document_type": "resident_id", "grade": 7, "class_name": "7班", "hukou_local": False, "hukou_rural": False,
         "medical_assistance": "", "public_funded_care": True, "has_citizen_card": False},
    ]
    fields = list(expected[0])

    def stored():
        return [Student.objects.values(*fields, "name").get(identity_number=row[2]) for row in rows]

    job = _import(world, "students.xlsx", files.xlsx(rows, header=header))
    assert job.state == Job.State.SUCCEEDED, job.result
    assert stored() == [{**values, "name": row[0]} for values, row in zip(expected, rows, strict=True)]

    rows[0][5:11], rows[1][5:11] = rows[1][5:11], rows[0][5:11]  # the two students swap every value
    job = _import(world, "students.xlsx", files.xlsx(rows, header=header))
    assert job.result["updated"] == 2, job.result
    assert stored() == [{**values, "name": row[0]} for values, row in zip(reversed(expected), rows, strict=True)]


def test_a_short_list_of_late_students_at_a_larger_school_adds_and_updates_only_its_own_rows(world):
    data = files.rows(10)
    _import(world, "students.xlsx", files.xlsx(data))
    changed = list(data[3])
    changed[5] = "9班"
    late = files.student_row(40)
    job = _import(world, "late.xlsx", files.xlsx([changed, late]))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert (job.result["created"], job.result["updated"], job.result["unchanged"]) == (1, 1, 0)
    assert Student.objects.get(identity_number=changed[1]).class_name == "9班"
    assert Enrollment.objects.filter(student__identity_number=late[1], insurance_year=world.year).count() == 1
    assert Student.objects.filter(school=world.school).count() == 11
