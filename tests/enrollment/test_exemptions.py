"""The exemption register (R7): list imports, stamped letters, and what they do to rosters."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from enrollment.services.exemptions import exemption_letter_register, exemptions_import
from enrollment.services.rosters import roster_confirm
from tests.factories import StudentFactory, identity_number, login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)},
    }}


@pytest.fixture
def categories(world):
    dibao = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})[0]
    orphan = ExemptionCategory.objects.get_or_create(city=world.city, code="orphan", defaults={"name": "孤儿"})[0]
    letter = ExemptionCategory.objects.get_or_create(
        city=world.city, code="nonlocal_dibao_student",
        defaults={"name": "非本市户籍低保大学生", "local_hukou_only": False, "requires_letter": True},
    )[0]
    return dibao, orphan, letter


def staff(world):
    return Actor(world.city_staff, "admin")


def row(number, category="低保人员", valid_from="2019-01-01", valid_to="", name="张三"):
    return {"identity_number": number, "name": name, "category": category, "valid_from": valid_from, "valid_to": valid_to}


def test_a_new_list_is_imported_with_category_by_name_or_code(world, categories):
    a, b = identity_number(), identity_number()
    result = exemptions_import(
        actor=staff(world), source=ExemptionSource.CIVIL_AFFAIRS,
        rows=[row(a), row(b, category="orphan")], file_name="民政名单.xlsx",
    )
    assert result.ok and result.created == 2
    assert set(Exemption.objects.values_list("category__code", flat=True)) == {"dibao", "orphan"}
    assert Exemption.objects.get(identity_number=a).entered_by == world.city_staff


def test_re_importing_updates_the_row_instead_of_duplicating_it(world, categories):
    number = identity_number()
    exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(number, valid_to="2030-12-31")], file_name="a.csv")
    result = exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(number, valid_to="2031-12-31")], file_name="b.csv")
    assert (result.created, result.updated) == (0, 1)
    assert Exemption.objects.get(identity_number=number).valid_to == datetime.date(2031, 12, 31)
    again = exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(number, valid_to="2031-12-31")], file_name="b.csv")
    assert again.unchanged == 1
    assert AuditEvent.objects.filter(model="exemption", action="exemption_update").count() == 1


def test_the_same_person_from_another_source_is_a_separate_row(world, categories):
    number = identity_number()
    exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(number)], file_name="a.csv")
    exemptions_import(actor=staff(world), source="trade_union", rows=[row(number)], file_name="b.csv")
    assert Exemption.objects.filter(identity_number=number).count() == 2


def test_rows_whose_validity_has_passed_are_imported_as_expired(world, categories):
    result = exemptions_import(
        actor=staff(world), source="civil_affairs",
        rows=[row(identity_number(), valid_from="2015-01-01", valid_to="2016-12-31")], file_name="a.csv",
    )
    assert result.ok and result.expired == 1 and result.created == 1


def test_one_bad_row_means_nothing_is_written_and_every_error_is_reported(world, categories):
    result = exemptions_import(
        actor=staff(world), source="civil_affairs",
        rows=[
            row(identity_number()),
            row("440104201003150000"),
            row(identity_number(), category="不存在的类别"),
            row(identity_number(), valid_from="昨天"),
            row(identity_number(), valid_from="2020-01-01", valid_to="2019-01-01"),
        ],
        file_name="bad.csv",
    )
    assert not result.ok
    assert not Exemption.objects.exists()
    by_row = {(e.row, e.column) for e in result.errors}
    assert by_row == {(2, "身份证号码"), (3, "免缴类别"), (4, "有效期起"), (5, "有效期止")}
    assert "校验位" in str(result.errors[0])


def test_the_letter_category_cannot_come_in_by_list(world, categories):
    result = exemptions_import(
        actor=staff(world), source="civil_affairs", rows=[row(identity_number(), category="非本市户籍低保大学生")],
        file_name="a.csv",
    )
    assert not result.ok and not Exemption.objects.exists()


def test_an_xlsx_file_is_read_with_its_row_numbers(world, categories):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码", "姓名", "免缴类别", "有效期起", "有效期止"])
    sheet.append([identity_number(), "张三", "低保人员", datetime.date(2019, 1, 1), None])
    sheet.append(["123", "李四", "孤儿", "2019-01-01", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    result = exemptions_import(actor=staff(world), source="civil_affairs", rows=buffer, file_name="名单.xlsx")
    assert [(e.row, e.column) for e in result.errors] == [(3, "身份证号码")]
    assert not Exemption.objects.exists()


def test_a_gbk_csv_is_read(world, categories):
    number = identity_number()
    text = f"身份证号码,姓名,免缴类别,有效期起,有效期止\n{number},王五,孤儿,2019-01-01,\n"
    result = exemptions_import(actor=staff(world), source="disabled_federation", rows=io.BytesIO(text.encode("gbk")), file_name="残联.csv")
    assert result.ok
    assert Exemption.objects.get(identity_number=number).name == "王五"


def test_an_imported_exemption_zeroes_the_fee_on_an_open_roster(world, categories):
    student = StudentFactory(school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    result = exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(student.identity_number)], file_name="a.csv")
    assert result.applied["refreshed"] == 1
    enrollment = Enrollment.objects.get(student=student)
    assert (enrollment.fee_due, enrollment.exemption_category.code) == (0, "dibao")


def test_an_exemption_after_confirmation_corrects_the_snapshot_before_billing(world, categories):
    student, other = StudentFactory.create_batch(2, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    roster.refresh_from_db()
    roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(student.identity_number)], file_name="a.csv")
    live = RosterConfirmation.objects.get(roster=roster)
    assert (live.paying_count, live.exempt_count, live.total_amount) == (1, 1, Decimal("200.00"))
    assert live.lines.get(enrollment__student=student).fee == 0
    assert Roster.objects.get(pk=roster.pk).state == RosterState.CONFIRMED


def test_an_exemption_after_billing_becomes_a_refund(world, categories):
    student = StudentFactory(school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    roster.refresh_from_db()
    roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.BILLED)
    exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(student.identity_number)], file_name="a.csv")
    exemptions_import(actor=staff(world), source="trade_union", rows=[row(student.identity_number)], file_name="b.csv")
    correction = ChargeCorrection.objects.get()
    assert (correction.amount, correction.reason) == (Decimal("-200.00"), "exemption")


def pdf_upload(name="letter.pdf", content=b"%PDF-1.4\n%test\n"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_bureau_staff_enter_a_stamped_letter_for_a_non_local_student(world, categories):
    student = StudentFactory(school=world.school, hukou_local=False)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    exemption = exemption_letter_register(
        actor=staff(world), identity_number=student.identity_number, name=student.name,
        valid_from=datetime.date(2019, 9, 1), valid_to=None, letter=pdf_upload(),
    )
    assert exemption.source == ExemptionSource.CONFIRMATION_LETTER
    assert exemption.entered_by == world.city_staff
    assert exemption.evidence.name and student.identity_number not in exemption.evidence.name
    assert Enrollment.objects.get(student=student).fee_due == 0


def test_a_letter_that_is_not_pdf_or_jpeg_is_refused_whatever_its_extension(world, categories):
    with pytest.raises(ValidationError) as caught:
        exemption_letter_register(
            actor=staff(world), identity_number=identity_number(), name="x", valid_from=datetime.date(2019, 9, 1),
            valid_to=None, letter=pdf_upload(content=b"MZ\x90\x00 not a pdf"),
        )
    assert "letter" in caught.value.error_dict
    assert not Exemption.objects.exists()


def test_a_letter_over_the_size_limit_is_refused(world, categories, settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError):
        exemption_letter_register(
            actor=staff(world), identity_number=identity_number(), name="x", valid_from=datetime.date(2019, 9, 1),
            valid_to=None, letter=pdf_upload(content=b"%PDF-" + b"0" * 200),
        )


def test_a_jpeg_letter_is_accepted(world, categories):
    exemption = exemption_letter_register(
        actor=staff(world), identity_number=identity_number(), name="x", valid_from=datetime.date(2019, 9, 1),
        valid_to=None, letter=SimpleUploadedFile("scan.pdf", b"\xff\xd8\xff\xe0rest", content_type="image/jpeg"),
    )
    assert exemption.evidence.name.endswith(".jpg")


def test_staff_import_a_list_through_the_admin_page(world, categories, client):
    number = identity_number()
    login(client, world.city_staff)
    upload = SimpleUploadedFile("民政.csv", f"身份证号码,姓名,免缴类别,有效期起\n{number},赵六,低保人员,2019-01-01\n".encode())
    response = client.post("/admin/enrollment/exemption/import/", {"source": "civil_affairs", "upload": upload}, follow=True)
    assert "免缴名单已导入" in response.content.decode()
    assert Exemption.objects.filter(identity_number=number).exists()


def test_the_admin_import_page_reports_bad_rows_and_writes_nothing(world, categories, client):
    login(client, world.city_staff)
    upload = SimpleUploadedFile("民政.csv", "身份证号码,姓名,免缴类别,有效期起\n12345,赵六,低保人员,2019-01-01\n".encode())
    response = client.post("/admin/enrollment/exemption/import/", {"source": "civil_affairs", "upload": upload})
    text = response.content.decode()
    assert "未导入任何数据" in text and "身份证号码" in text
    assert not Exemption.objects.exists()


def test_coordinators_cannot_reach_the_import_page(world, client):
    world.coordinator.is_staff = True
    world.coordinator.save()
    login(client, world.coordinator)
    assert client.get("/admin/enrollment/exemption/import/").status_code == 403


def test_the_background_import_claims_the_job_once_and_records_the_result(world, categories):
    from django.core.files.base import ContentFile

    from enrollment.models import Job
    from enrollment.tasks.exemptions import exemptions_import_task

    number = identity_number()
    job = Job.objects.create(
        kind=Job.Kind.EXEMPTION_IMPORT, created_by=world.city_staff, params={"source": "civil_affairs"}, input_name="民政.csv",
    )
    job.input_file.save("x.csv", ContentFile(f"身份证号码,免缴类别,有效期起\n{number},孤儿,2019-01-01\n".encode()))
    exemptions_import_task(job.pk)
    exemptions_import_task(job.pk)  # a duplicate delivery finds the job claimed and does nothing
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.result["created"] == 1
    assert Exemption.objects.filter(identity_number=number).count() == 1
    assert AuditEvent.objects.filter(model="exemption").count() == 1


def test_staff_enter_a_letter_through_the_admin_form(world, categories, client):
    number = identity_number()
    login(client, world.city_staff)
    response = client.post("/admin/enrollment/exemption/letter/", {
        "identity_number": number, "name": "钱七", "valid_from": "2019-09-01",
        "letter": SimpleUploadedFile("函.pdf", b"%PDF-1.4 stamped", content_type="application/pdf"),
    }, follow=True)
    assert "确认函已录入" in response.content.decode()
    assert Exemption.objects.get(identity_number=number).source == ExemptionSource.CONFIRMATION_LETTER


def test_rows_may_use_the_chinese_headers(world, categories):
    number = identity_number()
    result = exemptions_import(
        actor=staff(world), source="trade_union",
        rows=[{"身份证号码": number, "姓名": "孙八", "免缴类别": "孤儿", "有效期起": "2019-01-01"}], file_name="api",
    )
    assert result.ok and Exemption.objects.get(identity_number=number).category.code == "orphan"


def test_the_import_says_per_row_why_a_listed_person_is_not_exempted(world, categories):
    local = StudentFactory(school=world.school, hukou_local=True)
    non_local = StudentFactory(school=world.school, hukou_local=False)
    unknown = identity_number()
    result = exemptions_import(
        actor=staff(world), source="civil_affairs", file_name="a.csv",
        rows=[row(local.identity_number), row(non_local.identity_number), row(unknown),
              row(identity_number(), valid_from="2010-01-01", valid_to="2011-01-01")],
    )

    assert result.ok and result.created == 4
    notes = {note.row: note.message for note in result.notes}
    assert 1 not in notes  # the local student is exempted: nothing to explain
    assert "非本市户籍" in notes[2] and "低保人员" in notes[2]
    assert "尚无该身份证号码的在册学生" in notes[3]
    assert "有效期已于2011-01-01结束" in notes[4]
    assert result.as_dict()["notes"][0]["row"] == 2


def test_a_listed_name_that_breaks_the_students_name_rule_is_a_row_error_not_cut_or_stored(world, categories):
    long_name = "欧阳" * 26  # 52 characters: it used to be cut at 50 and stored
    result = exemptions_import(
        actor=staff(world), source="civil_affairs",
        rows=[row(identity_number()), row(identity_number(), name=long_name), row(identity_number(), name="@SUM(A1)")],
        file_name="民政名单.xlsx",
    )
    assert not result.ok and not Exemption.objects.exists()
    assert [(e.row, e.column) for e in result.errors] == [(2, "姓名"), (3, "姓名")]
    assert "超过50个字" in result.errors[0].message and "“@”" in result.errors[1].message


def test_a_listed_person_without_a_name_is_still_registered(world, categories):
    result = exemptions_import(actor=staff(world), source="civil_affairs", rows=[row(identity_number(), name="")], file_name="a.csv")
    assert result.ok and Exemption.objects.get().name == ""


def test_a_letter_with_a_name_holding_markup_is_refused_on_the_name(world, categories):
    with pytest.raises(ValidationError) as caught:
        exemption_letter_register(
            actor=staff(world), identity_number=identity_number(), name="<script>", valid_from=datetime.date(2019, 9, 1),
            valid_to=None, letter=pdf_upload(),
        )
    assert "name" in caught.value.error_dict
    assert not Exemption.objects.exists()
