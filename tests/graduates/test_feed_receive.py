import io

import openpyxl
import pytest

from graduates.models import GraduateFeed, GraduateRecord
from graduates.parsing import FeedRefused
from graduates.services import feed_receive
from tests.factories import identity_number
from tests.graduates.conftest import csv_bytes


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["身份证号码", "姓名", "学校代码", "毕业日期", "班级"])
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_csv_feed_in_utf8_is_stored_with_its_records(world):
    number = identity_number()
    content = csv_bytes([(number, "张 三", "GZ-YX-001", "2026-06-30", "初三1班")])
    receipt = feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="roll.csv")
    assert receipt.created
    feed = receipt.feed
    assert feed.state == GraduateFeed.State.PENDING and feed.record_count == 1
    record = feed.records.get()
    assert (record.identity_number, record.name, record.school_code, record.class_name) == (number, "张 三", "GZ-YX-001", "初三1班")
    assert record.graduation_date.isoformat() == "2026-06-30"


def test_csv_feed_in_gbk_is_read(world):
    content = csv_bytes([(identity_number(), "李四", "GZ-YX-001", "2026/6/30", "")], encoding="gbk")
    feed = feed_receive(source="vocational", via=GraduateFeed.Via.INBOX, content=content, file_name="voc.csv").feed
    assert feed.records.get().name == "李四"


def test_xlsx_feed_is_read_with_dates_as_cells(world):
    import datetime

    content = _xlsx([(identity_number(), "王五", "GZ-YX-001", datetime.date(2026, 7, 1), "高三2班")])
    feed = feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="roll.xlsx").feed
    record = feed.records.get()
    assert record.graduation_date == datetime.date(2026, 7, 1) and record.class_name == "高三2班"


def test_same_file_twice_is_recorded_once_and_answers_already_received(world):
    content = csv_bytes([(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "")])
    first = feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="a.csv")
    second = feed_receive(source="school_roll", via=GraduateFeed.Via.INBOX, content=content, file_name="copy.csv")
    assert first.created and not second.created
    assert second.feed.pk == first.feed.pk
    assert "此前已接收" in second.message
    assert GraduateFeed.objects.count() == 1 and GraduateRecord.objects.count() == 1


def test_feed_missing_a_column_is_refused_naming_the_column(world):
    content = csv_bytes([(identity_number(), "张三", "2026-06-30")], header=("身份证号码", "姓名", "毕业日期"))
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="a.csv")
    assert refused.value.report == [{"row": 1, "column": "学校代码", "message": "缺少必需的列“学校代码”。"}]
    assert not GraduateFeed.objects.exists()


def test_bad_rows_are_all_reported_and_nothing_is_stored(world):
    good = identity_number()
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    content = csv_bytes(
        [
            (good, "张三", "GZ-YX-001", "2026-06-30", ""),
            (bad_check, "李四", "GZ-YX-001", "2026-06-30", ""),
            (identity_number(), "王五", "GZ-YX-001", "2026-13-45", ""),
            (identity_number(), "", "GZ-YX-001", "2026-06-30", ""),
            (good, "张三", "GZ-YX-001", "2026-06-30", ""),
        ]
    )
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="a.csv")
    report = refused.value.report
    assert [(e["row"], e["column"]) for e in report] == [(3, "身份证号码"), (4, "毕业日期"), (5, "姓名"), (6, "身份证号码")]
    assert "校验位" in report[0]["message"]
    assert "2026-13-45" in report[1]["message"]
    assert "重复" in report[3]["message"] and "第2行" in report[3]["message"]
    assert "第3行" in str(refused.value.messages[0])
    assert not GraduateFeed.objects.exists() and not GraduateRecord.objects.exists()


def test_empty_feed_is_refused(world):
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=csv_bytes([]), file_name="empty.csv")
    assert "没有毕业生记录" in refused.value.report[0]["message"]
    with pytest.raises(FeedRefused):
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=b"", file_name="empty.csv")
    assert not GraduateFeed.objects.exists()


def test_json_records_missing_a_field_are_refused_by_row(world):
    records = [
        {"identity_number": identity_number(), "name": "张三", "school_code": "GZ-YX-001", "graduation_date": "2026-06-30"},
        {"identity_number": identity_number(), "name": "李四", "school_code": "GZ-YX-001"},
    ]
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.API, records=records)
    assert refused.value.report == [{"row": 2, "column": "毕业日期", "message": "毕业日期不能为空。"}]
    assert not GraduateFeed.objects.exists()


def test_inbox_files_are_received_and_moved_to_done(world, settings):
    from graduates.services import inbox_collect

    inbox = settings.GRADUATE_FEED_INBOX
    inbox.mkdir(parents=True)
    (inbox / "school_roll_20260701.csv").write_bytes(csv_bytes([(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "")]))
    (inbox / "vocational_bad.csv").write_bytes(csv_bytes([("123", "张三", "GZ-YX-001", "2026-06-30", "")]))
    outcomes = dict(inbox_collect())
    assert outcomes == {"school_roll_20260701.csv": "received", "vocational_bad.csv": "refused"}
    assert (inbox / "done" / "school_roll_20260701.csv").exists()
    assert (inbox / "refused" / "vocational_bad.csv").exists()
    assert "第2行" in (inbox / "refused" / "vocational_bad.csv.errors.txt").read_text(encoding="utf-8")
    feed = GraduateFeed.objects.get()
    assert (feed.source, feed.received_via) == ("school_roll", GraduateFeed.Via.INBOX)
    assert list(inbox.glob("*.csv")) == []


@pytest.mark.parametrize("name, why", [
    ("=HYPERLINK(\"http://x\")", "“=”"),
    ("<b>李雷</b>", "“<”"),
    ("李" * 51, "超过50个字"),
])
def test_a_graduate_name_that_breaks_the_students_name_rule_refuses_the_feed_naming_row_and_column(world, name, why):
    content = csv_bytes([
        (identity_number(), "韩梅梅", world.school.code, "2026-06-30", ""),
        (identity_number(), name, world.school.code, "2026-06-30", ""),
    ])
    with pytest.raises(FeedRefused) as refused:
        feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=content, file_name="grads.csv")
    (error,) = refused.value.errors
    assert (error.row, error.column) == (3, "姓名")
    assert why in error.message
    assert not GraduateFeed.objects.exists()


def test_graduate_names_of_minorities_and_foreigners_are_received_as_on_their_documents(world):
    records = [
        {"identity_number": identity_number(), "name": name, "school_code": world.school.code, "graduation_date": "2026-06-30"}
        for name in ("阿依古丽•买买提", "John Smith", "𠀋心怡")
    ]
    feed = feed_receive(source="school_roll", via=GraduateFeed.Via.API, records=records).feed
    assert sorted(feed.records.values_list("name", flat=True)) == sorted(["阿依古丽·买买提", "John Smith", "𠀋心怡"])
