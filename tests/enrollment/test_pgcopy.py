"""COPY of many rows: every line stored once, in order, whatever the size of the chunks sent."""

import pytest
from django.db import connection, transaction

from enrollment.imports import pgcopy

pytestmark = pytest.mark.django_db


def _scratch(cursor):
    cursor.execute("CREATE TEMP TABLE copy_probe (n integer, label text)")


@pytest.mark.parametrize("chunk", [1, 7, 64, pgcopy.COPY_CHUNK])
def test_every_line_is_stored_once_when_the_text_spans_many_chunks(monkeypatch, chunk):
    monkeypatch.setattr(pgcopy, "COPY_CHUNK", chunk)
    with connection.cursor() as cursor:
        _scratch(cursor)
        labels = {n: f"行{n}" + "\t乙" for n in range(3000)}
        sent = pgcopy.copy_lines(cursor, "copy_probe", ["n", "label"], (f"{n}\t{pgcopy.copy_value(labels[n])}" for n in range(3000)))
        cursor.execute("SELECT n, label FROM copy_probe ORDER BY n")
        stored = cursor.fetchall()
    assert sent == 3000
    assert stored == sorted(labels.items())


def test_no_lines_send_nothing_and_count_zero():
    with connection.cursor() as cursor:
        _scratch(cursor)
        assert pgcopy.copy_lines(cursor, "copy_probe", ["n", "label"], iter(())) == 0
        cursor.execute("SELECT count(*) FROM copy_probe")
        assert cursor.fetchone()[0] == 0


def test_a_bad_line_stores_nothing_of_the_copy():
    with connection.cursor() as cursor:
        _scratch(cursor)
        lines = (f"{n}\tx" if n != 2500 else "not a number\tx" for n in range(3000))
        with pytest.raises(Exception, match="integer"):
            # In a savepoint so the test's transaction survives the refused COPY.
            with transaction.atomic(), connection.cursor() as inner:
                pgcopy.copy_lines(inner, "copy_probe", ["n", "label"], lines)
        cursor.execute("SELECT count(*) FROM copy_probe")
        assert cursor.fetchone()[0] == 0


def test_an_error_raised_while_making_the_lines_reaches_the_caller_as_itself():
    class Refused(Exception):
        pass

    def lines():
        for n in range(3000):
            if n == 2500:
                raise Refused("第2501行")
            yield f"{n}\tx"

    with connection.cursor() as cursor:
        _scratch(cursor)
        with pytest.raises(Refused, match="第2501行"):
            with transaction.atomic(), connection.cursor() as inner:
                pgcopy.copy_lines(inner, "copy_probe", ["n", "label"], lines())
        cursor.execute("SELECT count(*) FROM copy_probe")
        assert cursor.fetchone()[0] == 0


def test_a_duplicate_key_is_djangos_integrity_error():
    from django.db import IntegrityError

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_keys (n integer PRIMARY KEY)")
        with pytest.raises(IntegrityError):
            with transaction.atomic(), connection.cursor() as inner:
                pgcopy.copy_lines(inner, "copy_keys", ["n"], (str(n % 2000) for n in range(3000)))
