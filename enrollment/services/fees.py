"""The fee standard of an insurance year and what follows when it becomes final (R2).

Guangzhou confirms rosters under a provisional 200 yuan standard and debits
only once the real one is published: unbilled rosters are recomputed in
place, rosters already billed get a ``ChargeCorrection`` per student that
billing turns into an extra debit or a refund.

Publishing is a bureau act, not a roster change: it is allowed at any time,
after the declaration window too (Guangzhou "pays the real standard once it
is published", GZ 2(3)), whatever the year's lock after the window says.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import (
    ZERO,
    AuditEvent,
    ChargeCorrection,
    ConfirmationLine,
    Enrollment,
    InsuranceYear,
    Role,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.querysets import membership_of
from enrollment.services.common import Actor, audit_fields, roster_touch
from enrollment.services.rosters import confirmation_totals_refresh, paying_enrollments

CENT = Decimal("0.01")


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


def _check_may_publish(actor: Actor, insurance_year: InsuranceYear) -> None:
    """The year's own city staff (or a superuser, or a system job) set the standard; schools, districts and
    other cities do not."""
    user = actor.user
    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return
    membership = membership_of(user)
    if membership is None or membership.role != Role.CITY_STAFF:
        raise PermissionDenied(_("只有市经办人员可以公布缴费标准。"))
    if membership.city_id != insurance_year.city_id:
        raise PermissionDenied(_("只能公布本市参保年度的缴费标准。"))


@transaction.atomic
def fee_standard_publish(
    *, actor: Actor, insurance_year: InsuranceYear, fee_standard: Decimal, background: bool = False
) -> dict:
    """Make ``fee_standard`` the final standard of the year and bring every roster in line with it.

    With ``background`` the rosters are recomputed by ``recompute_fees_task``
    after commit (for very large years); otherwise in this transaction.
    """
    try:
        fee_standard = _money(fee_standard)
    except Exception as exc:  # noqa: BLE001 - any unparsable input is the same user error
        raise ValidationError({"fee_standard": ValidationError(_("缴费标准必须是金额。"), code="invalid")}) from exc
    if fee_standard < 0:
        raise ValidationError({"fee_standard": ValidationError(_("缴费标准不能为负数。"), code="invalid")})
    _check_may_publish(actor, insurance_year)

    year = InsuranceYear.objects.select_for_update().get(pk=insurance_year.pk)
    old = {"fee_standard": year.fee_standard, "fee_provisional": year.fee_provisional}
    year.fee_standard = fee_standard
    year.fee_provisional = False
    year.save(update_fields=["fee_standard", "fee_provisional"])
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action=AuditEvent.Action.FEE_STANDARD_PUBLISH,
        obj=year,
        changes={key: [old[key], getattr(year, key)] for key in old},
    ))
    insurance_year.fee_standard, insurance_year.fee_provisional = year.fee_standard, year.fee_provisional

    if background:
        from enrollment.tasks.rosters import recompute_fees_task

        transaction.on_commit(lambda: recompute_fees_task.delay(year.pk))
        return {"fee_standard": str(fee_standard), "deferred": True}
    counts = fees_recompute(actor=actor, insurance_year=year)
    return {"fee_standard": str(fee_standard), "deferred": False, **counts}


@transaction.atomic
def fees_recompute(*, actor: Actor, insurance_year: InsuranceYear) -> dict:
    """Apply the year's current standard everywhere. Safe to run twice: the second run changes nothing.

    Runs whatever the date: what the bureau publishes after the window still reaches every roster.
    """
    year = InsuranceYear.objects.get(pk=insurance_year.pk)
    fee = year.fee_standard
    counts = {"rosters": 0, "enrollments": 0, "lines": 0, "corrections": 0}
    now = timezone.now()
    audit_rows = []

    # Lock every roster of the year in a fixed order: no edit or confirmation slips in meanwhile.
    for roster in Roster.objects.select_for_update().filter(insurance_year=year).order_by("pk"):
        changed = paying_enrollments(roster).filter(exemption_category__isnull=True).exclude(fee_due=fee)
        rows = list(changed.values("pk", "student_id", "fee_due"))
        if rows:
            Enrollment.objects.filter(pk__in=[r["pk"] for r in rows]).update(fee_due=fee, updated_at=now)
            counts["enrollments"] += len(rows)
            for r in rows:
                audit_rows.append(AuditEvent(**audit_fields(
                    actor=actor, action=AuditEvent.Action.ENROLLMENT_FEE_RECOMPUTE, obj=Enrollment(pk=r["pk"]),
                    changes={"fee_due": [r["fee_due"], fee]}, school_id=roster.school_id,
                    student_id=r["student_id"], roster_id=roster.pk,
                ), at=now))

        live = RosterConfirmation.objects.filter(roster=roster, reopened_at__isnull=True, supplementary=False).first()
        if roster.state == RosterState.CONFIRMED and live is not None:
            # Not billed yet: the snapshot itself follows the final standard.
            lines = ConfirmationLine.objects.filter(confirmation=live, exemption_category__isnull=True).exclude(fee=fee)
            counts["lines"] += lines.update(fee=fee)
            if live.fee_standard != fee or live.fee_provisional != year.fee_provisional:
                live.fee_standard, live.fee_provisional = fee, year.fee_provisional
                live.save(update_fields=["fee_standard", "fee_provisional"])
            confirmation_totals_refresh(confirmation=live)
        elif roster.state in (RosterState.BILLED, RosterState.SETTLED) and live is not None:
            counts["corrections"] += _corrections_for_billed(actor=actor, roster=roster, confirmation=live, fee=fee, now=now)
        # Late students' supplementary confirmations: whether charged yet or not, what they charge is their
        # lines, so the gap to the final standard is a correction of its own (charged once either way).
        for supplementary in RosterConfirmation.objects.filter(roster=roster, reopened_at__isnull=True, supplementary=True):
            counts["corrections"] += _corrections_for_billed(actor=actor, roster=roster, confirmation=supplementary, fee=fee, now=now)
        if rows:
            counts["rosters"] += 1
            if roster.state == RosterState.OPEN:
                roster_touch(roster=roster)

    AuditEvent.objects.bulk_create(audit_rows, batch_size=2000)
    return counts


def _corrections_for_billed(*, actor, roster, confirmation, fee, now) -> int:
    """Per charged student: the gap between the final standard and what was charged so far."""
    charged_lines = {
        line["enrollment_id"]: line["fee"]
        for line in ConfirmationLine.objects.filter(confirmation=confirmation, exemption_category__isnull=True, fee__gt=0)
        .values("enrollment_id", "fee")
    }
    if not charged_lines:
        return 0
    earlier = {
        row["enrollment_id"]: row["total"] or ZERO
        for row in ChargeCorrection.objects.filter(
            enrollment_id__in=list(charged_lines), reason=ChargeCorrection.Reason.FEE_STANDARD
        )
        .exclude(state=ChargeCorrection.State.CANCELLED)
        .values("enrollment_id")
        .annotate(total=Sum("amount"))
    }
    # Students exempted or removed after billing are refunded by their own correction, not here.
    still_paying = set(
        paying_enrollments(roster).filter(pk__in=list(charged_lines), exemption_category__isnull=True).values_list("pk", flat=True)
    )
    pending = {
        c.enrollment_id: c
        for c in ChargeCorrection.objects.select_for_update().filter(
            enrollment_id__in=list(charged_lines), reason=ChargeCorrection.Reason.FEE_STANDARD,
            state=ChargeCorrection.State.PENDING,
        )
    }
    created, audit_rows, written = [], [], 0
    for enrollment_id, line_fee in charged_lines.items():
        if enrollment_id not in still_paying:
            continue
        delta = fee - (line_fee + earlier.get(enrollment_id, ZERO))
        if delta == 0:
            continue
        open_one = pending.get(enrollment_id)
        if open_one is not None:
            old_amount = open_one.amount
            open_one.amount = old_amount + delta
            if open_one.amount == 0:
                open_one.amount = old_amount
                open_one.state = ChargeCorrection.State.CANCELLED
            open_one.save(update_fields=["amount", "state"])
            obj, change = open_one, {"amount": [old_amount, open_one.amount], "state": [None, open_one.state]}
        else:
            obj = ChargeCorrection(
                enrollment_id=enrollment_id, amount=delta, reason=ChargeCorrection.Reason.FEE_STANDARD,
                detail=_("缴费标准调整为%(fee)s元") % {"fee": fee}, created_at=now,
            )
            created.append(obj)
            change = {"amount": [None, delta]}
        written += 1
        audit_rows.append((obj, change))
    ChargeCorrection.objects.bulk_create(created, batch_size=2000)
    AuditEvent.objects.bulk_create([
        AuditEvent(**audit_fields(
            actor=actor, action=AuditEvent.Action.CHARGE_CORRECTION, obj=obj, changes=change, school_id=roster.school_id,
            roster_id=roster.pk, note=str(ChargeCorrection.Reason.FEE_STANDARD.label),
        ), at=now)
        for obj, change in audit_rows
    ], batch_size=2000)
    return written

