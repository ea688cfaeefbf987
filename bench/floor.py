"""The floor of a benchmark: the same rows written to the same tables by bare set-based SQL, rolled back.

Every name comes from the models (``_meta.db_table``, field columns): the
benchmarks name no table of the core as a literal (tests/test_architecture.py).

A floor runs inside one transaction on its own connection. Before the rollback
it sets every deferred constraint IMMEDIATE, so the foreign-key checks a job
pays at commit are paid by its floor too: the floor skips nothing the database
must do, only the job's own work around it.
"""

import io
import time
from contextlib import contextmanager


def table(model) -> str:
    return f'"{model._meta.db_table}"'


def columns(model, *, with_id: bool = True) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if with_id or not f.primary_key]


def column_list(model, *, with_id: bool = True) -> str:
    return ", ".join(f'"{c}"' for c in columns(model, with_id=with_id))


def capture(cursor, model, where: str, params=()) -> bytes:
    """The rows of ``model`` matching ``where`` (SQL on the table's columns), in COPY's text format."""
    raw = getattr(cursor, "cursor", cursor)
    sink = io.BytesIO()
    query = raw.mogrify(f"SELECT {column_list(model)} FROM {table(model)} WHERE {where}", list(params)).decode()
    raw.copy_expert(f"COPY ({query}) TO STDOUT", sink)
    return sink.getvalue()


def replay(cursor, model, data: bytes) -> None:
    """COPY rows captured by ``capture`` back into the model's table (same ids)."""
    raw = getattr(cursor, "cursor", cursor)
    raw.copy_expert(f"COPY {table(model)} ({column_list(model)}) FROM STDIN", io.BytesIO(data))


def count_lines(data: bytes) -> int:
    return data.count(b"\n")


@contextmanager
def rolled_back(connection):
    """A transaction on a psycopg2 ``connection`` (autocommit off) that is always rolled back.

    Yields a cursor and a dict whose ``seconds`` is set on exit: the time from
    the first statement to the end of the deferred constraint checks.
    """
    timing = {}
    connection.rollback()
    cursor = connection.cursor()
    started = time.perf_counter()
    try:
        yield cursor, timing
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred FK checks a commit would run
        timing["seconds"] = time.perf_counter() - started
    finally:
        cursor.close()
        connection.rollback()


def connect():
    """A new psycopg2 connection to Django's database, autocommit off, for a floor's transaction."""
    from django.db import connection

    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = False
    return raw


def insert_select(model, values: dict[str, str], rest: str, params=()) -> tuple[str, list]:
    """``INSERT INTO <model> (...) SELECT ...`` with the columns in ``values`` (column -> SQL expression).

    Every other column (but the id) takes the field's default, sent as a parameter, as the ORM
    would; ``rest`` is the statement's FROM ... part and ``params`` its parameters. The expressions
    in ``values`` take no parameters (the defaults' placeholders come first).
    """
    names, selected, defaults = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(f'"{field.column}"')
        if field.column in values:
            selected.append(values[field.column])
        else:
            selected.append("%s")
            defaults.append(field.get_default())  # "" for a text field without one, as the ORM writes
    unknown = set(values) - {f.column for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"no such columns in {model._meta.db_table}: {sorted(unknown)}")
    return f"INSERT INTO {table(model)} ({', '.join(names)}) SELECT {', '.join(selected)} {rest}", [*defaults, *params]
