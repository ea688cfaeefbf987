"""The one intake for spreadsheets and CSV: every source is sniffed, guarded and read the same way."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.imports import intake
from enrollment.models import Exemption, ExemptionCategory, ExemptionSource, Job
from enrollment.services.common import Actor
from enrollment.services.exemptions import exemptions_import
from enrollment.services.students import MODE_PARTIAL, student_import_start
from tests import files
from tests.factories import identity_number

EXEMPTION_HEADER = ["身份证号码", "姓名", "免缴类别", "有效期起"]


def test_a_csv_in_gbk_and_one_in_utf8_with_bom_read_alike():
    data = [["张三", "44010420120401123X"]]
    gbk = intake.read_rows(files.csv_bytes(data, header=["姓名", "身份证号码"], encoding="gbk"), "a.csv")
    bom = intake.read_rows(files.csv_bytes(data, header=["姓名", "身份证号码"], bom=True), "b.csv")
    assert gbk == bom == [["姓名", "身份证号码"], ["张三", "44010420120401123X"]]


def test_a_zip_bomb_is_refused_before_any_parser_reads_it():
    with pytest.raises(intake.FileRejected) as exc:
        intake.read_rows(files.zip_bomb(), "list.xlsx")
    assert exc.value.code == "zip_bomb"


def test_a_renamed_file_is_refused_by_what_it_really_is():
    with pytest.raises(intake.FileRejected) as exc:
        intake.read_rows(b"%PDF-1.4 not a list", "list.xlsx")
    assert "PDF" in exc.value.messages[0]


def test_headers_are_mapped_by_their_spellings_and_missing_ones_named():
    spellings = {"identity_number": ["身份证号码", "证件号码"], "name": ["姓名"]}
    assert intake.map_columns(["姓 名", "证件号码*"], spellings, required=["identity_number"]) == {"name": 0, "identity_number": 1}
    with pytest.raises(intake.FileRejected) as exc:
        intake.map_columns(["姓名"], spellings, required=["identity_number"], labels={"identity_number": "身份证号码"})
    assert "身份证号码" in exc.value.messages[0]


def test_a_student_list_in_gbk_csv_reports_a_bad_row_by_row_and_column(world):
    data = files.rows(3)
    data[2][4] = "九十"
    job = student_import_start(
        actor=Actor(user=world.coordinator, source="portal"), school=world.school,
        upload=SimpleUploadedFile("名单.csv", files.csv_bytes(data, encoding="gbk")), mode=MODE_PARTIAL, run_now=True,
    )
    assert job.state == Job.State.SUCCEEDED and job.result["created"] == 2
    assert [(e["row"], e["column"]) for e in job.result["errors"]] == [(4, "年级")]


def _exemption_categories(world):
    ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})


def test_an_exemption_list_in_gbk_csv_is_read_and_a_bad_row_named(world):
    _exemption_categories(world)
    good = identity_number()
    content = files.csv_bytes(
        [[good, "张三", "低保人员", "2019-01-01"], ["440104201204019999", "李四", "低保人员", "2019-01-01"]],
        header=EXEMPTION_HEADER, encoding="gbk",
    )
    result = exemptions_import(actor=Actor(world.city_staff, "admin"), source=ExemptionSource.CIVIL_AFFAIRS,
                               rows=SimpleUploadedFile("民政名单.csv", content), file_name="民政名单.csv")
    assert [(e.row, e.column) for e in result.errors] == [(3, "身份证号码")]
    assert not Exemption.objects.exists()  # all rows valid, or nothing written


def test_an_exemption_list_that_is_a_zip_bomb_is_refused_with_the_intake_message(world):
    _exemption_categories(world)
    result = exemptions_import(actor=Actor(world.city_staff, "admin"), source=ExemptionSource.CIVIL_AFFAIRS,
                               rows=SimpleUploadedFile("民政名单.xlsx", files.zip_bomb()), file_name="民政名单.xlsx")
    assert len(result.errors) == 1 and "恶意压缩文件" in result.errors[0].message
