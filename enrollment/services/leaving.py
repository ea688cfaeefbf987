"""Leaving school and death during the year (R20): statuses with a date, the paid fee as the city's year rules.

The coordinator records the status on the portal; bureau staff correct it in
the admin. What happens to a fee already charged follows the insurance year's
``paid_fee_on_leaving`` (default: no refund for the current year; the student
is stopped from the next one, which the yearly refresh does by the status). A
student not yet charged leaves the open roster, or the confirmed list while it
is not yet being charged; once it is, the charge goes ahead and the city's rule
decides the refund.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import (
    AuditAction,
    AuditEvent,
    Channel,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    LeavingFee,
    PaymentStatus,
    Roster,
    RosterState,
    Student,
    StudentStatus,
)
from enrollment.services.common import Actor, audit_fields, roster_get_or_create

LEAVING = (StudentStatus.LEFT, StudentStatus.DECEASED)


@dataclass(frozen=True)
class LeavingOutcome:
    student: Student
    message: str


def leaving_rule_text(*, insurance_year: InsuranceYear) -> str:
    """The city's rule as the coordinator reads it before recording a student as left or deceased."""
    if insurance_year.paid_fee_on_leaving == LeavingFee.REFUND:
        paid = _("已缴纳的%(year)s费用退还（经办机构办理退费，退回学校账户）")
    else:
        paid = _("已缴纳的%(year)s费用不退，学生的待遇享受至本参保年度结束（%(end)s）")
    return (_("按%(city)s%(year)s的规定：学生年度中离校或死亡，") + paid + _(
        "；尚未缴费、名单尚未确认或已确认但尚未扣费的，从本年度缴费名单中剔除，不再扣费；下一参保年度起不再为其参保缴费。")) % {
        "city": insurance_year.city.name, "year": insurance_year.label, "end": insurance_year.coverage_end.isoformat(),
    }


@transaction.atomic
def student_leave(*, actor: Actor, student: Student, status: str, on: datetime.date | None) -> LeavingOutcome:
    """Record that ``student`` left school or died on ``on``; the year's enrollment follows the city's rule."""
    from enrollment.services.enrollments import enrollment_refresh
    from enrollment.services.students import school_year

    if status not in LEAVING:
        raise ValidationError({"status": ValidationError(_("请选择“已离校”或“已死亡”。"), code="invalid")})
    if on is None:
        raise ValidationError({"on": ValidationError(_("请填写离校或死亡日期。"), code="required")})
    if on > timezone.localdate():
        raise ValidationError({"on": ValidationError(_("日期不能晚于今天。"), code="future")})
    school = student.school
    year = school_year(school)
    roster_get_or_create(school=school, insurance_year=year)
    roster = Roster.objects.select_for_update().get(school=school, insurance_year=year)
    student = Student.objects.select_for_update().get(pk=student.pk)
    if student.status == StudentStatus.DECEASED and status != StudentStatus.DECEASED:
        raise ValidationError(_("该学生已登记为死亡；如有误请联系经办机构更正。"), code="deceased")
    old = {"status": student.status, "status_changed_on": student.status_changed_on}
    student.status, student.status_changed_on = status, on
    student.save(update_fields=["status", "status_changed_on", "updated_at"])
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.STUDENT_DECEASED if status == StudentStatus.DECEASED else AuditAction.STUDENT_LEFT, obj=student,
        changes={"status": [old["status"], status], "status_changed_on": [old["status_changed_on"], on]},
        school_id=school.pk, student_id=student.pk, roster_id=roster.pk,
    ))
    if status == StudentStatus.DECEASED:
        from enrollment.services.transfers import transfers_close_for_student

        transfers_close_for_student(actor=actor, student=student)
    enrollment = Enrollment.objects.select_for_update().filter(student=student, insurance_year=year).first()
    message = _enrollment_follows(actor=actor, student=student, enrollment=enrollment, roster=roster, year=year, on=on,
                                  refresh=enrollment_refresh)
    return LeavingOutcome(student=student, message=message)


def _enrollment_follows(*, actor, student, enrollment, roster, year, on, refresh) -> str:
    label = StudentStatus(student.status).label
    if enrollment is None or enrollment.channel != Channel.SCHOOL or enrollment.status != EnrollmentStatus.REGISTERED:
        if roster.state == RosterState.OPEN and year.accepts_changes():
            refresh(actor=actor, student=student, insurance_year=year)
        return _("%(name)s已登记为%(status)s。本年度不经学校缴费，下一年度不再为其登记。") % {"name": student.name, "status": label}
    if enrollment.payment_status in (PaymentStatus.BILLED, PaymentStatus.PAID):
        if year.paid_fee_on_leaving == LeavingFee.REFUND and enrollment.payment_status == PaymentStatus.PAID and enrollment.fee_due > 0:
            reason = ChargeCorrection.Reason.DECEASED if student.status == StudentStatus.DECEASED else ChargeCorrection.Reason.LEFT
            correction, created = ChargeCorrection.objects.get_or_create(
                enrollment=enrollment, reason=reason,
                state__in=[ChargeCorrection.State.PENDING, ChargeCorrection.State.IN_BILLING],
                defaults={"amount": -enrollment.fee_due, "detail": _("%(status)s：%(day)s") % {"status": label, "day": on.isoformat()},
                          "state": ChargeCorrection.State.PENDING},
            )
            if created:
                AuditEvent.objects.create(**audit_fields(
                    actor=actor, action=AuditAction.CHARGE_CORRECTION, obj=correction, changes={"amount": [None, correction.amount]},
                    school_id=enrollment.school_id, student_id=student.pk, roster_id=roster.pk,
                ))
            return _("%(name)s已登记为%(status)s。本年度已缴费用%(fee)s元将按本市规定退还学校，下一年度不再为其参保缴费。") % {
                "name": student.name, "status": label, "fee": enrollment.fee_due}
        if year.paid_fee_on_leaving == LeavingFee.REFUND:
            return _("%(name)s已登记为%(status)s。本年度费用正在扣缴，到账后请联系经办机构按本市规定办理退费；下一年度不再为其参保缴费。") % {
                "name": student.name, "status": label}
        return _("%(name)s已登记为%(status)s。本年度已缴费用不退，待遇享受至%(end)s；下一年度不再为其参保缴费。") % {
            "name": student.name, "status": label, "end": year.coverage_end.isoformat()}
    if roster.state == RosterState.OPEN and year.accepts_changes():
        refresh(actor=actor, student=student, insurance_year=year)
        return _("%(name)s已登记为%(status)s，已从本年度缴费名单中剔除，不会扣费；下一年度不再为其参保缴费。") % {
            "name": student.name, "status": label}
    if roster.state != RosterState.OPEN:
        from enrollment.services.rosters import confirmation_line_withdraw

        # Confirmed but not yet charged: the family is not charged for a student who has gone.
        if confirmation_line_withdraw(enrollment=enrollment, roster=roster):
            return _("%(name)s已登记为%(status)s，已从本校已确认的缴费名单中移出，不会扣费；下一年度不再为其参保缴费。") % {
                "name": student.name, "status": label}
        return _("%(name)s已登记为%(status)s。本校名单已确认，该生仍按已确认的名单扣费；如不应扣费，请联系经办机构退回名单后剔除。") % {
            "name": student.name, "status": label}
    return _("%(name)s已登记为%(status)s。本年度申报缴费期已结束，该生本年度未缴费，不再补缴；下一年度不再为其参保缴费。") % {
        "name": student.name, "status": label}


@transaction.atomic
def student_return(*, actor: Actor, student: Student, reason: str) -> Student:
    """Staff correction: a student recorded as left or deceased by mistake is in school again."""
    from enrollment.services.elsewhere import staff_may_correct
    from enrollment.services.enrollments import enrollment_refresh
    from enrollment.services.students import school_year

    reason = (reason or "").strip()
    school = student.school
    if not staff_may_correct(actor=actor, school=school):
        raise PermissionDenied(_("只有该校所属经办机构或市经办人员可以更正学生的在校状态。"))
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写更正原因。"), code="required")})
    year = school_year(school)
    roster_get_or_create(school=school, insurance_year=year)
    roster = Roster.objects.select_for_update().get(school=school, insurance_year=year)
    student = Student.objects.select_for_update().get(pk=student.pk)
    if student.status not in LEAVING:
        raise ValidationError(_("该学生的状态为“%(status)s”，不是离校或死亡，无需更正。") % {"status": student.get_status_display()}, code="not_left")
    old = {"status": student.status, "status_changed_on": student.status_changed_on}
    student.status, student.status_changed_on = StudentStatus.IN_SCHOOL, timezone.localdate()
    student.save(update_fields=["status", "status_changed_on", "updated_at"])
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.STUDENT_STATUS_CORRECTED, obj=student,
        changes={"status": [old["status"], student.status], "status_changed_on": [old["status_changed_on"], student.status_changed_on]},
        school_id=school.pk, student_id=student.pk, roster_id=roster.pk, note=reason,
    ))
    if roster.state == RosterState.OPEN and year.accepts_changes():
        enrollment_refresh(actor=actor, student=student, insurance_year=year)
    return student
