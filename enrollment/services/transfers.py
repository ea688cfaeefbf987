"""Transfers between schools of one city (R20): the new school asks, the old school decides, the enrollment moves.

The new school's coordinator requests a student by identity number; the old
school's coordinator (or bureau staff over the old school) accepts or refuses
with a reason. Accepting moves the student and the year's enrollment: a paid
(or billed) enrollment stays paid and is never charged again at the new school
(a confirmation freezes only enrollments not yet charged) nor refunded at the
old one; an unpaid one leaves the old school's confirmed snapshot, if any, and
joins the new school's roster. A student of another city is never transferred:
leaving at one and registering at the other is the way.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import identity, routing
from enrollment.models import (
    AuditAction,
    AuditEvent,
    Enrollment,
    PaymentStatus,
    Role,
    Roster,
    RosterState,
    School,
    Student,
    StudentStatus,
    Transfer,
)
from enrollment.querysets import membership_of
from enrollment.services.common import Actor, audit_fields, roster_get_or_create, roster_touch
from enrollment.services.rosters import staff_over_school

# Money already on its way or received: the enrollment moves as it is, never charged a second time.
CHARGED = (PaymentStatus.BILLED, PaymentStatus.PAID, PaymentStatus.REFUNDED)


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "is_authenticated", False) else None


def _audit_both(*, actor: Actor, action: str, transfer: Transfer, changes: dict, note: str = "") -> None:
    """One audit row for each school: each school's history shows the move, with both schools named."""
    for school_id in (transfer.from_school_id, transfer.to_school_id):
        AuditEvent.objects.create(**audit_fields(
            actor=actor, action=action, obj=transfer, changes=changes, school_id=school_id,
            student_id=transfer.student_id, note=note,
        ))


def _names(transfer: Transfer) -> dict:
    return {"from_school": [transfer.from_school.name, transfer.to_school.name]}


@transaction.atomic
def transfer_request(*, actor: Actor, to_school: School, identity_number: str, note: str = "") -> Transfer:
    """The new school asks for a student registered at another school of the same city."""
    from enrollment.services.students import school_year

    number = identity.normalize(identity_number)
    if not number:
        raise ValidationError({"identity_number": ValidationError(_("请填写转入学生的证件号码。"), code="required")})
    student = Student.objects.select_related("school__office").filter(identity_number=number).first()
    if student is None:
        raise ValidationError({"identity_number": ValidationError(
            _("系统中没有该证件号码的学生，无需办理转学；请在“登记学生”中直接登记。"), code="not_found")})
    if student.school_id == to_school.pk:
        raise ValidationError({"identity_number": ValidationError(_("该学生已在本校名册中。"), code="same_school")})
    if student.school.office.city_id != to_school.office.city_id:
        # Which city is not said: the asking school learns no more of a minor than the request needs.
        raise ValidationError({"identity_number": ValidationError(
            _("该学生在其他城市的学校登记。跨城市不能办理转学：请原学校在本系统中将其登记为离校，"
              "再由本校按新生登记；两地的参保年度、缴费标准和缴费方式各自独立。"), code="other_city")})
    if student.status in (StudentStatus.GRADUATED, StudentStatus.DECEASED):
        # The asking school learns no more of the student than the request needs: not which status it is.
        raise ValidationError({"identity_number": ValidationError(
            _("该学生在原学校已登记为毕业或死亡，不能办理转学；如有误请联系原学校或经办机构。"), code="not_in_school")})
    year = school_year(to_school)
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                student=student, insurance_year=year, from_school=student.school, to_school=to_school,
                note=(note or "").strip()[:200], requested_by=_user(actor),
            )
    except IntegrityError as exc:
        raise ValidationError({"identity_number": ValidationError(
            _("该学生已有一份待原学校处理的转学申请，请等待处理结果。"), code="pending")}) from exc
    _audit_both(actor=actor, action=AuditAction.TRANSFER_REQUEST, transfer=transfer, changes=_names(transfer), note=transfer.note)
    return transfer


def can_decide(*, user, transfer: Transfer) -> bool:
    """The old school's coordinator, staff of its office or city, or a superuser."""
    membership = membership_of(user) if getattr(user, "is_authenticated", False) else None
    if membership is not None and membership.role == Role.COORDINATOR and not user.is_superuser:
        return membership.school_id == transfer.from_school_id
    return staff_over_school(user=user, school=transfer.from_school)


def _lock_pending(*, actor: Actor, transfer: Transfer) -> Transfer:
    locked = Transfer.objects.select_for_update().select_related("from_school__office", "to_school__office", "student").get(pk=transfer.pk)
    if not can_decide(user=actor.user, transfer=locked):
        raise PermissionDenied(_("只有原学校的协管员或其所属经办机构、市经办人员可以处理该转学申请。"))
    if locked.state != Transfer.State.PENDING:
        raise ValidationError(_("该转学申请已处理（%(state)s）。") % {"state": locked.get_state_display()}, code="decided")
    return locked


@transaction.atomic
def transfer_refuse(*, actor: Actor, transfer: Transfer, reason: str) -> Transfer:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写拒绝原因，转入学校会看到该原因。"), code="required")})
    locked = _lock_pending(actor=actor, transfer=transfer)
    locked.state = Transfer.State.REFUSED
    locked.refusal_reason = reason[:200]
    locked.decided_by, locked.decided_at = _user(actor), timezone.now()
    locked.save(update_fields=["state", "refusal_reason", "decided_by", "decided_at"])
    _audit_both(actor=actor, action=AuditAction.TRANSFER_REFUSE, transfer=locked, changes={"state": [Transfer.State.PENDING, locked.state]}, note=reason)
    return locked


def transfers_close_for_student(*, actor: Actor, student: Student) -> int:
    """Refuse the pending requests for a student who can no longer move (recorded as deceased).

    A pending request would otherwise block every new one until the old school refused it by hand. The
    reason given is the one a new request gets, which does not say which status it is.
    """
    closed = 0
    for transfer in Transfer.objects.select_for_update().filter(student=student, state=Transfer.State.PENDING):
        transfer.state = Transfer.State.REFUSED
        transfer.refusal_reason = _("该学生在原学校已登记为毕业或死亡，不能办理转学；如有误请联系原学校或经办机构。")[:200]
        transfer.decided_by, transfer.decided_at = _user(actor), timezone.now()
        transfer.save(update_fields=["state", "refusal_reason", "decided_by", "decided_at"])
        _audit_both(actor=actor, action=AuditAction.TRANSFER_REFUSE, transfer=transfer,
                    changes={"state": [Transfer.State.PENDING, transfer.state]}, note=transfer.refusal_reason)
        closed += 1
    return closed


@transaction.atomic
def transfer_accept(*, actor: Actor, transfer: Transfer) -> Transfer:
    """Move the student and the year's enrollment to the new school."""
    locked = _lock_pending(actor=actor, transfer=transfer)
    year = locked.insurance_year
    old_school, new_school = locked.from_school, locked.to_school
    # Both rosters locked, in id order (as every roster writer does), whatever their state.
    for school in sorted((old_school, new_school), key=lambda s: s.pk):
        roster_get_or_create(school=school, insurance_year=year)
    rosters = {
        r.school_id: r for r in Roster.objects.select_for_update().filter(insurance_year=year, school__in=[old_school, new_school]).order_by("school_id")
    }
    student = Student.objects.select_for_update().get(pk=locked.student_id)
    if student.school_id != old_school.pk:
        raise ValidationError(_("该学生已不在原学校名册中，申请已失效。"), code="moved")
    if student.status in (StudentStatus.GRADUATED, StudentStatus.DECEASED):
        # Recorded while the request waited: accepting would put the student back in school at the new one.
        raise ValidationError(
            _("%(name)s在原学校已登记为“%(status)s”，不能转学；请拒绝该申请并注明原因。")
            % {"name": student.name, "status": student.get_status_display()}, code="not_in_school",
        )
    enrollment = Enrollment.objects.select_for_update().filter(student=student, insurance_year=year).first()
    if enrollment is not None and enrollment.payment_status not in CHARGED:
        _leave_old_confirmation(enrollment=enrollment, roster=rosters[old_school.pk])

    old_status = student.status
    student.school = new_school
    student.status = StudentStatus.IN_SCHOOL
    student.save(update_fields=["school", "status", "updated_at"])
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.STUDENT_TRANSFER, obj=student, school_id=new_school.pk, student_id=student.pk,
        roster_id=rosters[new_school.pk].pk, changes={"school": [old_school.name, new_school.name], "status": [old_status, student.status]},
    ))
    if enrollment is not None:
        _move_enrollment(actor=actor, enrollment=enrollment, student=student, school=new_school, rosters=rosters)
    for roster in rosters.values():
        roster_touch(roster=roster)

    locked.state = Transfer.State.ACCEPTED
    locked.decided_by, locked.decided_at = _user(actor), timezone.now()
    locked.payment_status = enrollment.payment_status if enrollment is not None else ""
    locked.save(update_fields=["state", "decided_by", "decided_at", "payment_status"])
    _audit_both(actor=actor, action=AuditAction.TRANSFER_ACCEPT, transfer=locked, changes={**_names(locked), "state": [Transfer.State.PENDING, locked.state]})
    return locked


def _leave_old_confirmation(*, enrollment: Enrollment, roster: Roster) -> None:
    """An unpaid student leaves the old school's confirmed list before it is charged; a billed list keeps it."""
    from enrollment.services.rosters import confirmation_line_withdraw

    if confirmation_line_withdraw(enrollment=enrollment, roster=roster) is False:
        raise ValidationError(
            _("原学校的名单已发起扣费或申报（状态：%(state)s），该生的扣费结果返回后再办理转学。") % {"state": roster.get_state_display()},
            code="in_billing",
        )


def _move_enrollment(*, actor: Actor, enrollment: Enrollment, student: Student, school: School, rosters: dict) -> None:
    from enrollment.services.enrollments import _changes, _snapshot, _target

    old = _snapshot(enrollment)
    year = enrollment.insurance_year
    if enrollment.payment_status in CHARGED:
        # Paid stays paid: only the school changes, routing and fee as they were when charged.
        new = {**old, "school_id": school.pk}
    else:
        exemptions = routing.exemptions_by_identity([student.identity_number], insurance_year=year).get(student.identity_number, [])
        new = _target(student=student, school=school, year=year, rules=routing.rules_for(year), exemptions=exemptions, existing=enrollment)
    for field, value in new.items():
        setattr(enrollment, field, value)
    enrollment.save()
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.ENROLLMENT_TRANSFER, obj=enrollment, changes=_changes(old, new),
        school_id=school.pk, student_id=student.pk, roster_id=rosters[school.pk].pk,
    ))


def transfer_outcome_text(transfer: Transfer) -> str:
    """What the move did to the year's enrollment, in the words shown to both coordinators."""
    if transfer.state != Transfer.State.ACCEPTED:
        return ""
    if transfer.payment_status in CHARGED:
        return _("本年度已在原学校缴费（或已发起扣费），转入后不再重复缴费，原学校也不退费。")
    # Lists read the state in their own query (selectors_changes.transfers_with_outcome); one transfer asks.
    if hasattr(transfer, "to_roster_state"):
        state = transfer.to_roster_state
    else:
        state = Roster.objects.filter(
            school_id=transfer.to_school_id, insurance_year_id=transfer.insurance_year_id).values_list("state", flat=True).first()
    if state is not None and state != RosterState.OPEN:
        return _("本年度尚未缴费：已列入转入学校的参保名单，但转入学校的名单已确认，该生待补充确认后缴费。")
    return _("本年度尚未缴费：已列入转入学校的参保名单，随转入学校的名单确认后缴费。")
