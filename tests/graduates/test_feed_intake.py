"""Graduate feeds come in through the one intake: sniffed, guarded, CSV in GBK or UTF-8, rows named in errors."""

import pytest

from graduates.models import GraduateFeed
from graduates.parsing import FeedRefused
from graduates.services import feed_receive
from tests import files
from tests.factories import identity_number
from tests.graduates.conftest import csv_bytes


def test_a_feed_that_is_a_zip_bomb_is_refused_before_reading(world):
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=files.zip_bomb(), file_name="roll.xlsx")
    assert "恶意压缩文件" in refused.value.report[0]["message"]


def test_a_feed_renamed_from_a_pdf_is_refused_by_what_it_is(world):
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=b"%PDF-1.4 x", file_name="roll.csv")
    assert "PDF" in refused.value.report[0]["message"]


def test_a_text_feed_in_gbk_is_read_as_csv(world):
    content = csv_bytes([(identity_number(), "李四", "GZ-YX-001", "2026/6/30", "")], encoding="gbk")
    feed = feed_receive(source="vocational", via=GraduateFeed.Via.INBOX, content=content, file_name="voc.txt").feed
    assert feed.records.get().name == "李四"


def test_an_unknown_county_in_a_feed_is_refused_naming_row_and_column(world):
    bad = "449999" + identity_number()[6:17]
    from enrollment.identity import mod11_2

    content = csv_bytes([(identity_number(), "李四", "GZ-YX-001", "2026-06-30", ""), (bad + mod11_2(bad), "王五", "GZ-YX-001", "2026-06-30", "")])
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="roll.csv")
    [error] = refused.value.report
    assert (error["row"], error["column"]) == (3, "身份证号码") and "449999" in error["message"]


def test_a_feed_whose_headings_carry_required_marks_is_read_as_every_list_is(world):
    # Headings as the student template writes them ("身份证号码*"), with a colon and a full-width space.
    header = ("身份证号码*", "姓名：", "学校　代码*", "毕业日期*", "班级")
    content = csv_bytes([(identity_number(), "李四", "GZ-YX-001", "2026-06-30", "高三1班")], header=header)
    feed = feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="roll.csv").feed
    record = feed.records.get()
    assert (record.name, record.school_code, record.class_name) == ("李四", "GZ-YX-001", "高三1班")


def test_a_feed_missing_two_columns_names_each_in_its_own_error(world):
    content = csv_bytes([(identity_number(), "李四")], header=("身份证号码*", "姓名"))
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="roll.csv")
    assert refused.value.report == [
        {"row": 1, "column": "学校代码", "message": "缺少必需的列“学校代码”。"},
        {"row": 1, "column": "毕业日期", "message": "缺少必需的列“毕业日期”。"},
    ]
