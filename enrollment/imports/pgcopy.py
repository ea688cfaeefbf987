"""PostgreSQL COPY of plain tuples: the fast path for writing tens of thousands of rows.

An import of 50,000 students writes 50,000 students, 50,000 enrollments and
50,000 audit rows. Model instances, ``bulk_create`` and even ``INSERT ..
VALUES`` spend more time in Python and in the SQL parser than the database
spends storing the rows; COPY streams them in one round trip.
"""

import datetime
import io
import json
from collections.abc import Iterable, Sequence

from django.db import connection

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime.date):  # datetimes too: ISO with offset, which PostgreSQL reads as is
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table``; return how many were sent."""
    buffer = io.StringIO()
    count = 0
    write = buffer.write
    for row in rows:
        write("\t".join([copy_value(v) for v in row]))
        write("\n")
        count += 1
    if not count:
        return 0
    buffer.seek(0)
    quote = connection.ops.quote_name
    raw = getattr(cursor, "cursor", cursor)
    raw.copy_expert(f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN", buffer)
    return count


def json_text(value) -> str:
    """JSON as the audit trail stores it: anything not plain (Decimal, date) as its string."""
    return json.dumps(value, ensure_ascii=False, default=str)


def temp_table_like(cursor, name: str, table: str, columns: Sequence[str]) -> None:
    """A scratch table with the column types of ``table``, gone at commit (dropped first if an earlier call left one)."""
    quote = connection.ops.quote_name
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{quote(name)}")
    cursor.execute(
        f"CREATE TEMP TABLE {quote(name)} ON COMMIT DROP AS "
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} WITH NO DATA"
    )


AUDIT_COLUMNS = ("at", "actor_id", "actor_label", "source", "action", "model", "object_id", "school_id", "student_id",
                 "roster_id", "changes", "note")


def audit_base(fields: dict) -> tuple:
    """(actor_id, actor_label, source, model) from one ``audit_fields`` result: the same for every row of a batch."""
    actor = fields["actor"]
    return (actor.pk if actor is not None else None, fields["actor_label"], fields["source"], fields["model"])
