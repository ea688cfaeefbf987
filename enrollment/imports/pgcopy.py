"""PostgreSQL COPY of plain tuples: the fast path for writing tens of thousands of rows.

An import of 50,000 students writes 50,000 students, 50,000 enrollments and
50,000 audit rows. Model instances, ``bulk_create`` and even ``INSERT ..
VALUES`` spend more time in Python and in the SQL parser than the database
spends storing the rows; COPY streams them in one round trip.
"""

import datetime
import json
from collections.abc import Iterable, Sequence

from django.db import connection

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_ESCAPES = _ESCAPES  # for str.translate: text escaped as copy_value escapes it, without the call


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
    return copy_lines(cursor, table, columns, ("\t".join([copy_value(v) for v in row]) for row in rows))


class _LineStream:
    """A file-like ``read`` over COPY lines made on demand.

    psycopg2 pulls a chunk, sends it, and pulls the next: the server stores one
    chunk while Python formats the next, so the two cores work at once instead of
    the whole text being built first and stored after.
    """

    def __init__(self, first: str, rest):
        self.count = 1
        self.error: BaseException | None = None
        self._pending = [first, "\n"]
        self._size = len(first) + 1
        self._rest = rest

    def read(self, size: int = -1) -> str:
        pending, total = self._pending, self._size
        append = pending.append
        try:
            for line in self._rest:
                append(line)
                append("\n")
                self.count += 1
                total += len(line) + 1
                if total >= size > 0:
                    break
        except Exception as exc:
            # psycopg2 would turn it into "error in .read() call" and lose it: kept, the COPY
            # ended, and raised again by copy_lines (the caller's transaction drops the rows).
            self.error = exc
            self._rest = iter(())
        self._pending, self._size = [], 0
        return "".join(pending)


# Large enough that the per-chunk calls cost nothing, small enough that the server starts early.
COPY_CHUNK = 256 * 1024


def copy_lines(cursor, table: str, columns: Sequence[str], lines: Iterable[str]) -> int:
    """COPY lines already in COPY's text format (fields escaped with ``copy_value``, tab-separated), streamed.

    ``lines`` may be a generator doing real work (the import validates rows while they are sent):
    an exception it raises ends the COPY and is raised here, for the caller's transaction to undo
    the rows sent before it.
    """
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return 0
    stream = _LineStream(first, lines)
    quote = connection.ops.quote_name
    raw = getattr(cursor, "cursor", cursor)
    # Through Django's error wrapper, as a cursor call would be: a unique violation is django.db.IntegrityError.
    with connection.wrap_database_errors:
        raw.copy_expert(f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN", stream, size=COPY_CHUNK)
    if stream.error is not None:
        raise stream.error
    return stream.count


_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def json_text(value) -> str:
    """JSON as the audit trail stores it: anything not plain (Decimal, date) as its string."""
    return _json(value)


def temp_table_like(cursor, name: str, table: str, columns: Sequence[str]) -> None:
    """A scratch table with the column types of ``table``, gone at commit (dropped first if an earlier call left one)."""
    quote = connection.ops.quote_name
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{quote(name)}")
    cursor.execute(
        f"CREATE TEMP TABLE {quote(name)} ON COMMIT DROP AS "
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} WITH NO DATA"
    )


AUDIT_COLUMNS = ("at", "actor_id", "actor_label", "source", "model", "school_id", "roster_id", "note", "action", "object_id",
                 "student_id", "changes")


def copy_audit(cursor, *, fields: dict, at, rows: Iterable[tuple[str, int, int | None, dict | str]]) -> int:
    """COPY audit rows straight into the audit table: (action, object id, student id, changes) per row.

    ``fields`` is one ``audit_fields`` result: actor, source, model, school, roster
    and note are the same for every row of a batch, so they are formatted once.
    ``changes`` is a dict, or its ``json_text`` already made by a caller that
    writes the same changes for many rows.
    """
    from enrollment.models import AuditEvent

    actor = fields["actor"]
    prefix = "\t".join(copy_value(v) for v in (
        at, actor.pk if actor is not None else None, fields["actor_label"], fields["source"], fields["model"],
        fields["school_id"], fields["roster_id"], fields["note"],
    ))
    esc, null = _ESCAPES, "\\N"
    # Many rows of a batch share one changes text (a school's new enrollments): escaped once each.
    escaped: dict[str, str] = {}

    def text(changes) -> str:
        if changes.__class__ is not str:
            return _json(changes).translate(esc)
        found = escaped.get(changes)
        if found is None:
            found = escaped[changes] = changes.translate(esc)
        return found

    return copy_lines(cursor, AuditEvent._meta.db_table, AUDIT_COLUMNS, (
        f"{prefix}\t{action}\t{object_id}\t{null if student_id is None else student_id}\t{text(changes)}"
        for action, object_id, student_id, changes in rows
    ))


def next_ids(cursor, table: str, count: int) -> list[int]:
    """``count`` ids taken from the sequence of ``table``'s id column, for rows COPied with their ids.

    The sequence is looked up once: ``nextval(pg_get_serial_sequence(...))`` per row repeats
    the catalog lookup for every id, ten times the cost of the ids themselves.
    """
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [connection.ops.quote_name(table)])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
    return [r[0] for r in cursor.fetchall()]


def int_array(values: Iterable[int]) -> str:
    """An array parameter as one literal for ``%s::bigint[]``.

    psycopg2 sends a Python list as ``ARRAY[1, 2, ...]``, which the server parses as
    one expression per element: for tens of thousands of ids that costs more than
    the query. One text literal is read by the array input function in one go.
    """
    return "{" + ",".join(str(int(v)) for v in values) + "}"
