"""The same graduates in other bytes are the same feed: recognised by their normalised records, not the file's bytes."""

import pytest

from graduates.models import GraduateFeed, GraduateRecord
from graduates.services import feed_receive
from tests.factories import identity_number
from tests.graduates.conftest import csv_bytes

pytestmark = pytest.mark.django_db


def test_the_same_graduates_with_a_bom_crlf_gbk_or_as_json_records_are_one_feed(world):
    rows = [(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "初三1班"),
            (identity_number(), "李四", "GZ-YX-001", "2026-06-30", "初三2班")]
    plain = csv_bytes(rows)
    first = feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=plain, file_name="roll.csv")
    assert first.created

    variants = {
        "bom": b"\xef\xbb\xbf" + plain,
        "crlf": plain.replace(b"\n", b"\r\n"),
        "gbk, rows reversed, another date spelling": csv_bytes(
            [(r[0], r[1], r[2], "2026/6/30", r[4]) for r in reversed(rows)], encoding="gbk"
        ),
    }
    for label, content in variants.items():
        again = feed_receive(source="school_roll", via=GraduateFeed.Via.API, content=content, file_name="roll.csv")
        assert not again.created and again.feed == first.feed, label
    records = [{"identity_number": r[0], "name": r[1], "school_code": r[2], "graduation_date": r[3], "class_name": r[4]}
               for r in rows]
    as_json = feed_receive(source="school_roll", via=GraduateFeed.Via.API, records=records)
    assert not as_json.created and as_json.feed == first.feed
    assert GraduateFeed.objects.count() == 1 and GraduateRecord.objects.count() == 2


def test_a_feed_with_one_graduate_more_is_a_new_feed(world):
    rows = [(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "初三1班")]
    feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=csv_bytes(rows), file_name="a.csv")
    more = rows + [(identity_number(), "王五", "GZ-YX-001", "2026-06-30", "初三1班")]
    assert feed_receive(source="school_roll", via=GraduateFeed.Via.ADMIN, content=csv_bytes(more), file_name="b.csv").created
