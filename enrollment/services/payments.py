"""Payment transitions of rosters and enrollments, driven by whoever collects the money.

Billing (bank debit or tax declaration) calls these; they speak only of the
core: a roster goes confirmed -> billed -> settled, its paying enrollments go
unpaid -> billed -> paid (with the time and, on the tax route, the e-receipt
number), and money sent back marks an enrollment refunded. Every transition is
set-based (one UPDATE for a whole roster or a whole run) and audited per roster
or per enrollment changed individually.
"""

import datetime

from django.db import connection, transaction
from django.utils import timezone

from enrollment.models import (
    AuditEvent,
    ConfirmationLine,
    Enrollment,
    PaymentStatus,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.services.common import Actor, audit_fields, audit_record


def _paying_lines(confirmation_ids):
    return ConfirmationLine.objects.filter(confirmation_id__in=confirmation_ids, fee__gt=0)


@transaction.atomic
def rosters_mark_billed(*, confirmation_ids: list[int], actor: Actor) -> int:
    """The charge of these confirmations has been issued (bank file or tax declaration).

    Rosters still ``confirmed`` become ``billed``. The students' own payment
    status moves only when money arrives (``roster_settle``, receipts): billing a
    city issues one file per bank, and must not rewrite two million enrollment
    rows to do it; a student of a billed roster is "billed" through the roster.
    Returns how many rosters changed state.
    """
    if not confirmation_ids:
        return 0
    from enrollment.imports.pgcopy import int_array
    from enrollment.services.bulk import _audit_insert, _audit_params

    now = timezone.now()
    confirmed, billed = RosterState.CONFIRMED.value, RosterState.BILLED.value
    # One statement for the whole batch: the rosters' update and one audit row per roster changed
    # (an ORM audit row per roster cost more than the rest of a 23-bank city's batch generation).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH changed AS (
                UPDATE {Roster._meta.db_table} r SET state = %s, updated_at = %s
                  FROM {RosterConfirmation._meta.db_table} c
                 WHERE c.id = ANY(%s::bigint[]) AND r.id = c.roster_id AND r.state = %s
             RETURNING r.id AS object_id, r.school_id, NULL::bigint AS student_id, r.id AS roster_id, ''::text AS note
            )
            {_audit_insert(source="changed")}
            """,
            [
                billed, now, int_array(confirmation_ids), confirmed,
                *_audit_params(actor=actor, action=AuditEvent.Action.ROSTER_BILLED, model=Roster, changes={"state": [confirmed, billed]}, at=now),
            ],
        )
        return cursor.rowcount


@transaction.atomic
def roster_settle(*, confirmation: RosterConfirmation, actor: Actor, paid_at: datetime.datetime | None = None) -> None:
    """The whole amount of a confirmation arrived: the roster is settled, its paying enrollments paid.

    A supplementary confirmation's money pays its own students only: the roster's state follows its first confirmation.
    """
    paid_at = paid_at or timezone.now()
    roster = Roster.objects.select_for_update().get(pk=confirmation.roster_id)
    old_state = roster.state
    if roster.state in (RosterState.CONFIRMED, RosterState.BILLED) and not confirmation.supplementary:
        Roster.objects.filter(pk=roster.pk).update(state=RosterState.SETTLED, updated_at=timezone.now())
    Enrollment.objects.filter(
        pk__in=_paying_lines([confirmation.pk]).values("enrollment_id"),
        payment_status__in=[PaymentStatus.UNPAID, PaymentStatus.BILLED],
    ).update(payment_status=PaymentStatus.PAID, paid_at=paid_at, updated_at=timezone.now())
    if confirmation.supplementary:
        audit_record(
            actor=actor, action=AuditEvent.Action.SUPPLEMENTARY_SETTLED, obj=confirmation, changes={"confirmation": confirmation.pk},
            school_id=roster.school_id, roster_id=roster.pk,
        )
        return
    audit_record(
        actor=actor, action=AuditEvent.Action.ROSTER_SETTLED, obj=roster, changes={"state": [old_state, RosterState.SETTLED]},
        school_id=roster.school_id, roster_id=roster.pk,
    )


@transaction.atomic
def enrollments_mark_paid(
    *, receipts: dict[int, str], actor: Actor, paid_at: datetime.datetime | None = None
) -> int:
    """Enrollments (id -> e-receipt number, may be empty) are paid; one UPDATE for all of them."""
    if not receipts:
        return 0
    paid_at = paid_at or timezone.now()
    ids = list(receipts)
    numbers = [receipts[i] for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Enrollment._meta.db_table} AS e
               SET payment_status = %s, paid_at = COALESCE(e.paid_at, %s), receipt_number = v.receipt, updated_at = %s
              FROM unnest(%s::bigint[], %s::text[]) AS v(id, receipt)
             WHERE e.id = v.id
            RETURNING e.id, e.school_id, e.student_id
            """,
            [PaymentStatus.PAID, paid_at, timezone.now(), ids, numbers],
        )
        rows = cursor.fetchall()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(**audit_fields(
                actor=actor, action=AuditEvent.Action.ENROLLMENT_PAID, obj=Enrollment(pk=pk),
                changes={"payment_status": [None, PaymentStatus.PAID], "receipt_number": receipts[pk]},
                school_id=school_id, student_id=student_id,
            ))
            for pk, school_id, student_id in rows
        ]
    )
    return len(rows)


@transaction.atomic
def roster_settle_if_paid(*, confirmation: RosterConfirmation, actor: Actor) -> bool:
    """Settle the roster once every paying enrollment of the confirmation is paid (e-receipts arrive per student)."""
    unpaid = (
        Enrollment.objects.filter(pk__in=_paying_lines([confirmation.pk]).values("enrollment_id"))
        .exclude(payment_status=PaymentStatus.PAID)
        .exists()
    )
    if unpaid:
        return False
    if confirmation.supplementary:  # the roster's state follows its first confirmation
        return True
    roster = Roster.objects.select_for_update().get(pk=confirmation.roster_id)
    if roster.state == RosterState.SETTLED:
        return True
    old_state = roster.state
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.SETTLED, updated_at=timezone.now())
    audit_record(
        actor=actor, action=AuditEvent.Action.ROSTER_SETTLED, obj=roster, changes={"state": [old_state, RosterState.SETTLED]},
        school_id=roster.school_id, roster_id=roster.pk,
    )
    return True


@transaction.atomic
def enrollment_mark_refunded(*, enrollment: Enrollment, actor: Actor, full: bool) -> None:
    """Money went back to the school for this enrollment; a full refund leaves it refunded, a partial one paid."""
    if not full:
        audit_record(
            actor=actor, action=AuditEvent.Action.ENROLLMENT_PARTLY_REFUNDED, obj=enrollment,
            school_id=enrollment.school_id, student_id=enrollment.student_id,
        )
        return
    old = Enrollment.objects.select_for_update().values_list("payment_status", flat=True).get(pk=enrollment.pk)
    Enrollment.objects.filter(pk=enrollment.pk).update(payment_status=PaymentStatus.REFUNDED, updated_at=timezone.now())
    audit_record(
        actor=actor, action=AuditEvent.Action.ENROLLMENT_REFUNDED, obj=enrollment, changes={"payment_status": [old, PaymentStatus.REFUNDED]},
        school_id=enrollment.school_id, student_id=enrollment.student_id,
    )
