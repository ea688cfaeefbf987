"""Set-based writes of the core, for jobs that change many rows in one go (the nightly graduate run).

A job hands its rows over as a ``RowSet``: a SELECT over its own tables (or a
temporary table) giving the columns the service names. The service joins it in
its own statements, so half a million rows cost one statement per step and none
of them travels through Python: the speed is that of the bare SQL. What the
rows become is the core's rule, as in the one-row services: the statuses and
their audit rows (``audit_actor_fields``), the roster lock (rows locked in id
order, the lock ``roster_lock_for_change`` takes) and the version bump
(``rosters_version_bump``), one open correction per enrollment and reason.

Table names and statuses come from the models, never from the callers.
"""

import datetime
import json

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    Roster,
    Student,
    StudentStatus,
)
from enrollment.rowset import RowSet
from enrollment.services.common import Actor, audit_actor_fields, rosters_version_bump

__all__ = [
    "RowSet", "audit_rows_write", "charge_corrections_raise", "enrollments_deregister", "rosters_bump", "rosters_lock",
    "rosters_lock_of_years", "students_graduate",
]


_AUDIT_COLUMNS = (
    "at", "actor_id", "actor_label", "source", "action", "model", "object_id", "school_id", "student_id", "roster_id",
    "changes", "note",
)


def _require_transaction(name: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError(f"{name} must run inside a transaction")


def _audit_insert(*, source: str, where: str = "", note_sql: str = "c.note") -> str:
    """INSERT of one audit row per row ``c`` of ``source`` (columns object_id, school_id, student_id, roster_id).

    Its parameters, in order, are ``_audit_params`` and then those of ``note_sql``.
    """
    note_length = AuditEvent._meta.get_field("note").max_length
    return f"""
        INSERT INTO {AuditEvent._meta.db_table} ({", ".join(_AUDIT_COLUMNS)})
        SELECT %s, %s, %s, %s, %s, %s, c.object_id, c.school_id, c.student_id, c.roster_id, %s::jsonb,
               left({note_sql}, {note_length})
          FROM {source} c
        {where}
    """


def _audit_params(*, actor: Actor, action: AuditEvent.Action, model, changes: dict, at: datetime.datetime) -> list:
    fields = audit_actor_fields(actor)
    user = fields["actor"]
    return [
        at, user.pk if user is not None else None, fields["actor_label"], fields["source"], AuditEvent.Action(action).value,
        model._meta.model_name, json.dumps(changes),
    ]


def rosters_lock(*, students: RowSet) -> list[int]:
    """Lock, until the transaction ends, every roster a change to these students' enrollments can touch.

    ``students`` columns: student_id, school_id, insurance_year_id. The rosters
    are the one of the student's school and the one of the school holding their
    enrollment that year. Rows are locked in id order, so two jobs never
    deadlock; roster edits, enrollment refreshes and confirmation take the same
    row lock, so each commits before the caller reads or waits until it commits.
    Returns the ids of the rosters locked.
    """
    _require_transaction("rosters_lock")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH wanted AS MATERIALIZED ({students.sql})
            SELECT ro.id FROM {Roster._meta.db_table} ro
             WHERE (ro.school_id, ro.insurance_year_id) IN (
                   SELECT school_id, insurance_year_id FROM wanted
                    UNION
                   SELECT e.school_id, e.insurance_year_id
                     FROM wanted w
                     JOIN {Enrollment._meta.db_table} e
                       ON e.student_id = w.student_id AND e.insurance_year_id = w.insurance_year_id)
             ORDER BY ro.id
               FOR UPDATE OF ro
            """,
            list(students.params),
        )
        return [row[0] for row in cursor.fetchall()]


def rosters_lock_of_years(*, years: RowSet) -> list[int]:
    """Lock, until the transaction ends, every roster of these insurance years (``years`` column: insurance_year_id).

    For a job that changes students all over a city at once (the nightly graduate run):
    every roster a change to their enrollments of those years can touch is among them,
    and taking them all costs a few milliseconds where finding each student's rosters
    first cost as much as the job's own reads. The price: every roster write of the
    city's year waits for the job's transaction (under a second a feed, at night).
    Rows are locked in id order, as ``rosters_lock`` does, so the two never deadlock.
    Returns the ids of the rosters locked.
    """
    _require_transaction("rosters_lock_of_years")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT ro.id FROM {Roster._meta.db_table} ro
             WHERE ro.insurance_year_id IN (SELECT insurance_year_id FROM ({years.sql}) y)
             ORDER BY ro.id
               FOR UPDATE OF ro
            """,
            list(years.params),
        )
        return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def students_graduate(*, rows: RowSet, actor: Actor, note: str, at: datetime.datetime | None = None) -> None:
    """Mark students graduated as of their graduation date, with an audit row each where ``audited``.

    ``rows`` columns: student_id, graduation_date, audited (false where the
    caller's change is recorded otherwise, e.g. by the enrollment's
    deregistration). Students already graduated are left as they are.
    """
    at = at or timezone.now()
    graduated = StudentStatus.GRADUATED.value
    sql = f"""
        WITH changed AS (
            UPDATE {Student._meta.db_table} s
               SET status = %s, status_changed_on = o.graduation_date, updated_at = %s
              FROM ({rows.sql}) o
             WHERE s.id = o.student_id AND s.status <> %s
         RETURNING s.id AS object_id, s.school_id, s.id AS student_id, NULL::bigint AS roster_id, o.audited
        )
        {_audit_insert(source="changed", where="WHERE c.audited", note_sql="%s")}
    """
    params = [
        graduated, at, *rows.params, graduated,
        *_audit_params(
            actor=actor, action=AuditEvent.Action.STUDENT_GRADUATED, model=Student, at=at,
            changes={"status": [StudentStatus.IN_SCHOOL.value, graduated]},
        ),
        note,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def enrollments_deregister(*, rows: RowSet, actor: Actor, action: AuditEvent.Action, at: datetime.datetime | None = None) -> None:
    """Deregister registered enrollments (the student left the insurance through them), one audit row each.

    ``rows`` columns: enrollment_id, roster_id (recorded in the audit row),
    status_reason, note. Enrollments no longer registered are left as they
    are. The caller holds the rosters' locks (``rosters_lock``) and bumps the
    versions of the open ones it changed (``rosters_bump``).
    """
    at = at or timezone.now()
    registered, deregistered = EnrollmentStatus.REGISTERED.value, EnrollmentStatus.DEREGISTERED.value
    reason_length = Enrollment._meta.get_field("status_reason").max_length
    sql = f"""
        WITH changed AS (
            UPDATE {Enrollment._meta.db_table} e
               SET status = %s, status_reason = left(o.status_reason, {reason_length}), updated_at = %s
              FROM ({rows.sql}) o
             WHERE e.id = o.enrollment_id AND e.status = %s
         RETURNING e.id AS object_id, e.school_id, e.student_id, o.roster_id, o.note
        )
        {_audit_insert(source="changed")}
    """
    params = [
        deregistered, at, *rows.params, registered,
        *_audit_params(
            actor=actor, action=action, model=Enrollment, at=at, changes={"status": [registered, deregistered]},
        ),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def rosters_bump(*, rows: RowSet, at: datetime.datetime | None = None) -> int:
    """Bump the version of the rosters named in ``rows`` (column roster_id; nulls and repeats are fine)."""
    ids = RawSQL(f"SELECT DISTINCT roster_id FROM ({rows.sql}) t WHERE roster_id IS NOT NULL", rows.params)
    return rosters_version_bump(rosters=Roster.objects.filter(pk__in=ids), at=at)


@transaction.atomic
def charge_corrections_raise(
    *, rows: RowSet, reason: ChargeCorrection.Reason, detail: str, at: datetime.datetime | None = None
) -> int:
    """Raise one pending correction per row (columns enrollment_id, amount; negative is a refund).

    Zero amounts are skipped. An enrollment that already has an open
    correction for the same reason keeps that one (the partial unique
    constraint), so a repeated run raises nothing twice. Returns how many were raised.
    """
    at = at or timezone.now()
    detail_length = ChargeCorrection._meta.get_field("detail").max_length
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ChargeCorrection._meta.db_table} (enrollment_id, amount, reason, detail, state, created_at)
            SELECT o.enrollment_id, o.amount, %s, %s, %s, %s
              FROM ({rows.sql}) o
             WHERE o.amount <> 0
            ON CONFLICT DO NOTHING
            """,
            [reason.value, detail[:detail_length], ChargeCorrection.State.PENDING.value, at, *rows.params],
        )
        return cursor.rowcount


@transaction.atomic
def audit_rows_write(
    *, rows: RowSet, actor: Actor, action: AuditEvent.Action, model, changes: dict | None = None, at: datetime.datetime | None = None
) -> int:
    """Write one audit row per row (columns object_id, school_id, student_id, roster_id, note) about ``model``.

    For a change a job made to many rows by other means; the services above
    write their own. Returns how many rows were written.
    """
    at = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _audit_insert(source=f"({rows.sql})"),
            [*_audit_params(actor=actor, action=action, model=model, changes=changes or {}, at=at), *rows.params],
        )
        return cursor.rowcount
