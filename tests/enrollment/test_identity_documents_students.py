"""Students of every identity document through the register: stored with their type, routed, imported."""

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment import identity
from enrollment.models import Channel, Enrollment, Job, Student
from enrollment.services.common import Actor
from enrollment.services.students import MODE_PARTIAL, student_create, student_import_start
from tests import files

BIRTH = datetime.date(2012, 4, 1)


def _create(world, number, **extra):
    data = {"identity_number": number, "name": "测试学生", "grade": 5, "birth_date": BIRTH, "sex": identity.sex(number), **extra}
    return student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data=data)


def test_a_residence_permit_holder_is_stored_with_the_permit_type_and_on_the_paying_roster(world):
    student = _create(world, identity.generate(region="820000", birth=BIRTH, sequence=3))
    assert student.document_type == identity.DocumentType.HMT_RESIDENCE_PERMIT
    assert Enrollment.objects.get(student=student).channel == Channel.SCHOOL


def test_a_permanent_residence_card_of_either_format_is_stored_with_its_type(world):
    old = identity.generate_foreign_permanent(nationality="KOR", province="44", birth=BIRTH, sequence=1, old_format=True)
    new = identity.generate_foreign_permanent(nationality="410", province="44", birth=BIRTH, sequence=2)
    for number in (old, new):
        student = _create(world, number)
        student.refresh_from_db()
        assert (student.identity_number, student.document_type) == (number, "foreign_permanent_residence")


def test_a_passport_holder_is_routed_out_of_the_school_roster_with_a_reason(world):
    student = _create(world, "G12345678", document_type="passport", sex="男")
    assert student.document_type == "passport"
    enrollment = Enrollment.objects.get(student=student)
    assert enrollment.channel == Channel.OUTSIDE_SCHEME
    assert "护照" in enrollment.channel_reason


def _import(world, content, mode=MODE_PARTIAL):
    return student_import_start(
        actor=Actor(user=world.coordinator, source="portal"), school=world.school,
        upload=SimpleUploadedFile("students.xlsx", content), mode=mode, run_now=True,
    )


def test_an_unknown_county_number_is_a_row_error_and_the_other_rows_import(world):
    data = files.rows(3)
    data[1] = files.student_row(7, region="449999")
    job = _import(world, files.xlsx(data))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["created"] == 2
    [error] = job.result["errors"]
    assert (error["row"], error["column"]) == (3, "身份证号码")
    assert "地区代码" in error["message"] and "449999" in error["message"]


def test_an_import_stores_every_document_type_from_the_number_or_the_type_column(world):
    header = [*files.HEADER, "证件类型"]
    permit = identity.generate(region="830000", birth=BIRTH, sequence=5)
    card = identity.generate_foreign_permanent(nationality="USA", province="44", birth=BIRTH, sequence=3, old_format=True)
    late = identity.generate(region="440118", birth=datetime.date(2009, 1, 2), sequence=9)
    data = [
        ["台生", permit, "男", BIRTH.isoformat(), 5, "5班", "本市城镇", ""],
        ["永居", card, "男", BIRTH.isoformat(), 5, "5班", "本市城镇", "外国人永久居留身份证"],
        ["增城", late, "男", "2009-01-02", 5, "5班", "本市城镇", "居民身份证"],
        ["外籍", "X9988776", "女", BIRTH.isoformat(), 5, "5班", "本市城镇", "护照"],
    ]
    job = _import(world, files.xlsx(data, header=header), mode="strict")
    assert job.state == Job.State.SUCCEEDED, (job.error, job.result)
    types = dict(Student.objects.values_list("identity_number", "document_type"))
    assert types == {permit: "hmt_residence_permit", card: "foreign_permanent_residence", late: "resident_id", "X9988776": "passport"}
    assert Enrollment.objects.get(student__identity_number="X9988776").channel == Channel.OUTSIDE_SCHEME


def test_the_portal_answers_an_unknown_county_number_with_a_form_error_not_a_server_error(client, world):
    from django.urls import reverse

    from tests.coordinators.test_student_edit_form import BACKEND

    client.force_login(world.coordinator, backend=BACKEND)
    number = identity.generate(region="449999", birth=BIRTH, sequence=1)
    response = client.post(reverse("portal:student_add"), {
        "name": "测试学生", "identity_number": number, "sex": "", "birth_date": "", "grade": "5", "class_name": "",
        "document_type": "", "medical_assistance": "",
    })
    assert response.status_code == 200
    assert "地区代码“449999”不存在" in response.content.decode()
    assert not Student.objects.exists()
