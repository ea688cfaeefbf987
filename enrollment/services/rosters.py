"""The roster confirmation gate (R8): the school confirms the list, the snapshot is what gets charged.

Confirmation and every roster edit take the same row lock on the roster
(``roster_lock_for_change``), so an edit racing a confirmation lands before
the snapshot or is refused after it; the partial unique constraint
``confirmation_one_live_per_roster`` backs the lock up at the database.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import (
    ZERO,
    AuditEvent,
    Channel,
    ConfirmationLine,
    Enrollment,
    EnrollmentStatus,
    PaymentStatus,
    Role,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.querysets import membership_of
from enrollment.selectors import suspected_graduates
from enrollment.services.common import (
    Actor,
    RosterLocked,
    audit_fields,
    check_window_open,
    roster_lock_for_change,
    roster_touch,
)


def paying_enrollments(roster: Roster):
    """The enrollments a confirmation freezes: on the school channel and registered (exempt ones at 0)."""
    return Enrollment.objects.filter(
        insurance_year_id=roster.insurance_year_id,
        school_id=roster.school_id,
        channel=Channel.SCHOOL,
        status=EnrollmentStatus.REGISTERED,
    )


def confirmation_totals_refresh(*, confirmation: RosterConfirmation) -> RosterConfirmation:
    """Recompute a snapshot's counts and total from its lines."""
    agg = confirmation.lines.aggregate(
        paying=Count("pk", filter=Q(exemption_category__isnull=True)),
        exempt=Count("pk", filter=Q(exemption_category__isnull=False)),
        total=Sum("fee"),
    )
    confirmation.paying_count = agg["paying"] or 0
    confirmation.exempt_count = agg["exempt"] or 0
    confirmation.total_amount = agg["total"] or ZERO
    confirmation.save(update_fields=["paying_count", "exempt_count", "total_amount"])
    return confirmation


def confirmation_line_withdraw(*, enrollment: Enrollment, roster: Roster) -> bool | None:
    """Take a student who is not to be charged (moved away, left, died) off the roster's confirmed list.

    Only while the roster is confirmed and not yet billed: the snapshot's totals are recomputed, so the
    batch or declaration that follows charges the school one student less. Returns None when the student
    is on no confirmation in force, True when the line was withdrawn, and False when the list is already
    being charged (the charge then goes ahead and any refund follows the city's rule). Call with the
    roster locked.
    """
    lines = ConfirmationLine.objects.filter(enrollment=enrollment, live=True)
    if not lines.exists():
        return None
    if roster.state != RosterState.CONFIRMED:
        return False
    confirmation_ids = list(lines.values_list("confirmation_id", flat=True))
    lines.delete()
    for confirmation in RosterConfirmation.objects.filter(pk__in=confirmation_ids):
        confirmation_totals_refresh(confirmation=confirmation)
    return True


@transaction.atomic
def roster_confirm(
    *, actor: Actor, roster: Roster, checked: bool, expected_version: int | None = None, suspected_acknowledged: int | None = None
) -> RosterConfirmation:
    """Freeze the roster for billing.

    Students the evidence marks as probably graduated must be removed, or kept by naming how many: a
    graduate charged by mistake costs the family, so a plain tick does not let them through.
    """
    if not checked:
        raise ValidationError(
            {"checked": ValidationError(_("请先勾选“已核对名单”，确认名单中的学生、人数和金额无误后再确认。"), code="not_checked")}
        )
    year = roster.insurance_year
    # Locks the roster row, checks the window and that the roster is still open.
    locked = roster_lock_for_change(school=roster.school, insurance_year=year)
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(
            _("名单在您核对之后已有变动（当前版本%(now)s，您核对的是版本%(seen)s），请重新核对后再确认。")
            % {"now": locked.version, "seen": expected_version},
            code="roster_changed",
        )
    suspects = suspected_graduates(roster=locked).count()
    if suspects and suspected_acknowledged != suspects:
        raise ValidationError({"suspected_acknowledged": ValidationError(
            _("缴费名单中仍有%(n)d名疑似毕业生。请在“疑似毕业生”中核对并剔除已毕业的学生；如这%(n)d名学生仍在校，"
              "请勾选“这%(n)d名学生仍在校，照常缴费”后再确认。") % {"n": suspects},
            code="suspected_graduates",
        )})

    now = timezone.now()
    try:
        with transaction.atomic():
            confirmation = RosterConfirmation.objects.create(
                roster=locked,
                confirmed_by=actor.user,
                confirmed_at=now,
                roster_version=locked.version,
                fee_standard=year.fee_standard,
                fee_provisional=year.fee_provisional,
                paying_count=0,
                exempt_count=0,
                total_amount=ZERO,
            )
    except IntegrityError as exc:
        raise RosterLocked(_("该名单已确认，请勿重复确认。"), code="roster_locked") from exc

    # One INSERT..SELECT: a school of several thousand students is frozen in one statement.
    lines_table = ConfirmationLine._meta.db_table
    enrollment_table = Enrollment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {lines_table} (confirmation_id, enrollment_id, fee, exemption_category_id)
            SELECT %s, e.id, e.fee_due, e.exemption_category_id FROM {enrollment_table} e
            WHERE e.insurance_year_id = %s AND e.school_id = %s AND e.channel = %s AND e.status = %s
              AND e.payment_status NOT IN %s
            """,
            # A student transferred in after paying at the old school is never charged a second time.
            [confirmation.pk, year.pk, locked.school_id, Channel.SCHOOL, EnrollmentStatus.REGISTERED,
             (PaymentStatus.BILLED.value, PaymentStatus.PAID.value, PaymentStatus.REFUNDED.value)],
        )
    confirmation_totals_refresh(confirmation=confirmation)

    Roster.objects.filter(pk=locked.pk).update(state=RosterState.CONFIRMED, updated_at=now)
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action=AuditEvent.Action.ROSTER_CONFIRM,
        obj=locked,
        changes={
            "state": [RosterState.OPEN, RosterState.CONFIRMED],
            "paying_count": [None, confirmation.paying_count],
            "exempt_count": [None, confirmation.exempt_count],
            "total_amount": [None, confirmation.total_amount],
            "version": [None, locked.version],
        },
        school_id=locked.school_id,
        roster_id=locked.pk,
    ))
    roster.state = RosterState.CONFIRMED
    return confirmation


@transaction.atomic
def roster_confirm_supplementary(*, actor: Actor, roster: Roster, checked: bool, expected_version: int | None = None) -> RosterConfirmation:
    """Confirm the late students of a confirmed or billed roster: a supplementary snapshot billing charges once.

    The same gate as the first confirmation (the tick box, the version the coordinator
    reviewed, the window and the year's rule after it); only the students on no
    confirmation in force are frozen, so what was confirmed or billed before does not
    change. Confirming twice, or twice at once, freezes them once: the roster lock
    serialises the callers, the second finds nobody left; the partial unique index
    ``confirmation_line_one_live_per_enrollment`` refuses a second line at the database.
    """
    from enrollment.selectors import late_enrollments

    if not checked:
        raise ValidationError(
            {"checked": ValidationError(_("请先勾选“已核对名单”，确认名单中的学生、人数和金额无误后再确认。"), code="not_checked")}
        )
    year = roster.insurance_year
    check_window_open(insurance_year=year)
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    if locked.state == RosterState.OPEN:
        raise ValidationError(_("名单尚未确认：新登记的学生随名单一并确认，无需补充确认。"), code="roster_open")
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(
            _("名单在您核对之后已有变动（当前版本%(now)s，您核对的是版本%(seen)s），请重新核对后再确认。")
            % {"now": locked.version, "seen": expected_version},
            code="roster_changed",
        )
    late = list(late_enrollments(roster=locked).values_list("pk", flat=True))
    if not late:
        raise ValidationError(_("没有待补充确认的迟到学生。"), code="nothing_to_confirm")
    now = timezone.now()
    confirmation = RosterConfirmation.objects.create(
        roster=locked, supplementary=True, confirmed_by=actor.user, confirmed_at=now, roster_version=locked.version,
        fee_standard=year.fee_standard, fee_provisional=year.fee_provisional, paying_count=0, exempt_count=0, total_amount=ZERO,
    )
    try:
        with transaction.atomic():
            ConfirmationLine.objects.bulk_create([
                ConfirmationLine(confirmation=confirmation, enrollment_id=e.pk, fee=e.fee_due, exemption_category_id=e.exemption_category_id)
                for e in Enrollment.objects.filter(pk__in=late).only("pk", "fee_due", "exemption_category_id")
            ])
    except IntegrityError as exc:
        raise RosterLocked(_("这些迟到学生已补充确认，请勿重复确认。"), code="already_confirmed") from exc
    confirmation_totals_refresh(confirmation=confirmation)
    Roster.objects.filter(pk=locked.pk).update(updated_at=now)
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action=AuditEvent.Action.ROSTER_CONFIRM_SUPPLEMENTARY,
        obj=locked,
        changes={
            "supplementary_confirmation": [None, confirmation.pk],
            "paying_count": [None, confirmation.paying_count],
            "exempt_count": [None, confirmation.exempt_count],
            "total_amount": [None, confirmation.total_amount],
        },
        school_id=locked.school_id,
        roster_id=locked.pk,
    ))
    return confirmation


def staff_over_school(*, user, school) -> bool:
    """Bureau staff of the school's office, or of its city (or a superuser)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    membership = membership_of(user)
    if membership is None:
        return False
    if membership.role == Role.DISTRICT_STAFF:
        return membership.office_id == school.office_id
    if membership.role == Role.CITY_STAFF:
        return membership.city_id == school.office.city_id
    return False


def can_reopen(*, user, roster: Roster) -> bool:
    """Bureau staff of the school's office, or of its city, may send a confirmed roster back."""
    return staff_over_school(user=user, school=roster.school)


@transaction.atomic
def roster_reopen(*, actor: Actor, roster: Roster, reason: str) -> Roster:
    if not can_reopen(user=actor.user, roster=roster):
        raise PermissionDenied(_("只有该校所属经办机构或市经办人员可以退回名单。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写退回原因。"), code="required")})
    check_window_open(insurance_year=roster.insurance_year)

    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    if locked.state in (RosterState.BILLED, RosterState.SETTLED):
        raise RosterLocked(
            _("名单已扣费或申报（状态：%(state)s），不能退回；差错请通过费用调整处理。") % {"state": locked.get_state_display()},
            code="roster_billed",
        )
    if locked.state != RosterState.CONFIRMED:
        raise ValidationError(_("名单尚未确认，无需退回。"), code="roster_not_confirmed")

    now = timezone.now()
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    live = list(RosterConfirmation.objects.filter(roster=locked, reopened_at__isnull=True).values_list("pk", flat=True))
    reopened = RosterConfirmation.objects.filter(pk__in=live).update(reopened_at=now, reopened_by=user, reopen_reason=reason)
    # Their lines are no longer in force: the next confirmation takes these students again.
    ConfirmationLine.objects.filter(confirmation_id__in=live, live=True).update(live=False)
    Roster.objects.filter(pk=locked.pk).update(state=RosterState.OPEN, updated_at=now)
    roster_touch(roster=locked)
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action=AuditEvent.Action.ROSTER_REOPEN,
        obj=locked,
        changes={"state": [locked.state, RosterState.OPEN], "confirmations_reopened": [None, reopened]},
        school_id=locked.school_id,
        roster_id=locked.pk,
        note=reason,
    ))
    locked.refresh_from_db()
    roster.state, roster.version = locked.state, locked.version
    return locked
