"""Students covered by someone else (R20): insured elsewhere with proof, and the follow-up of other channels.

A student insured elsewhere (employee insurance, residents' insurance at the
hukou place, other) is recorded by the school's coordinator with the proof
(which scheme, where, until when): the enrollment leaves the paying roster
(channel ``insured_elsewhere``, not charged) and the coverage rates count the
student as covered, apart from the school's own. Bureau staff correct it.

Students routed to the village committee, civil affairs or the disabled
persons' federation are enrolled by those bodies; bureau staff record that
they were (when, where), and the coverage reports show each as confirmed
elsewhere or still open.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import routing
from enrollment.models import (
    FOLLOWED_UP_CHANNELS,
    ZERO,
    AuditAction,
    AuditEvent,
    Channel,
    Enrollment,
    EnrollmentStatus,
    OtherChannelEnrollment,
    OtherInsurance,
    OtherScheme,
    PaymentStatus,
    Role,
    School,
    Student,
    StudentStatus,
)
from enrollment.querysets import membership_of
from enrollment.services.common import Actor, audit_fields, roster_lock_for_change, roster_touch


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "is_authenticated", False) else None


def _field_error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


@transaction.atomic
def insured_elsewhere_record(
    *, actor: Actor, student: Student, scheme: str, place: str, valid_until: datetime.date | None, detail: str = ""
) -> OtherInsurance:
    """Record (or correct) the proof that ``student`` is insured elsewhere for the school's current year."""
    from enrollment.services.enrollments import _changes, _snapshot, enrollment_refresh
    from enrollment.services.students import school_year

    if scheme not in OtherScheme.values:
        raise _field_error("scheme", _("请选择他处参保的险种。"), "required")
    place = (place or "").strip()
    if not place:
        raise _field_error("place", _("请填写参保地（如：广州市、户籍所在地某县）。"), "required")
    if valid_until is None:
        raise _field_error("valid_until", _("请填写证明上的参保截止日期。"), "required")
    school = student.school
    year = school_year(school)
    if valid_until < year.coverage_start:
        raise _field_error("valid_until", _(
            "证明的参保截止日期（%(until)s）早于%(year)s待遇开始日期（%(start)s），不能据此免于在校参保。"
        ) % {"until": valid_until.isoformat(), "year": year, "start": year.coverage_start.isoformat()})
    if student.status != StudentStatus.IN_SCHOOL:
        raise ValidationError(_("该学生的状态为“%(status)s”，无需登记他处参保。") % {"status": student.get_status_display()}, code="not_in_school")
    roster = roster_lock_for_change(school=school, insurance_year=year)
    enrollment = enrollment_refresh(actor=actor, student=student, insurance_year=year)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if enrollment.payment_status in (PaymentStatus.BILLED, PaymentStatus.PAID):
        raise ValidationError(_(
            "该学生%(year)s已经由学校缴费（%(status)s），不能再登记为他处参保；如确属重复参保需要退费，请联系经办机构。"
        ) % {"year": year.label, "status": enrollment.get_payment_status_display()}, code="already_paid")
    old = _snapshot(enrollment)
    label = OtherScheme(scheme).label
    enrollment.channel = Channel.INSURED_ELSEWHERE
    enrollment.channel_reason = (_("%(scheme)s，%(place)s，至%(until)s") % {
        "scheme": label, "place": place, "until": valid_until.isoformat()})[:200]
    enrollment.fee_due = ZERO
    enrollment.exemption, enrollment.exemption_category = None, None
    enrollment.payment_status = PaymentStatus.NOT_CHARGED
    enrollment.save()
    other, _created = OtherInsurance.objects.update_or_create(
        enrollment=enrollment,
        defaults={"scheme": scheme, "place": place[:100], "valid_until": valid_until, "detail": (detail or "").strip()[:200],
                  "recorded_by": _user(actor), "recorded_at": timezone.now()},
    )
    roster_touch(roster=roster)
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.INSURED_ELSEWHERE_RECORD, obj=enrollment,
        changes={**_changes(old, _snapshot(enrollment)), "scheme": [None, scheme], "place": [None, place], "valid_until": [None, valid_until]},
        school_id=school.pk, student_id=student.pk, roster_id=roster.pk,
    ))
    return other


@transaction.atomic
def insured_elsewhere_cancel(*, actor: Actor, other: OtherInsurance, reason: str) -> Enrollment:
    """Staff correction: the proof does not hold; the student is routed and charged as if never recorded."""
    from enrollment.services.enrollments import _changes, _snapshot, _target

    reason = (reason or "").strip()
    enrollment = other.enrollment
    if not staff_may_correct(actor=actor, school=enrollment.school):
        raise PermissionDenied(_("只有该校所属经办机构或市经办人员可以撤销他处参保登记。"))
    if not reason:
        raise _field_error("reason", _("请填写撤销原因。"), "required")
    roster = roster_lock_for_change(school=enrollment.school, insurance_year=enrollment.insurance_year)
    enrollment = Enrollment.objects.select_for_update().select_related("student", "school", "insurance_year").get(pk=enrollment.pk)
    old = _snapshot(enrollment)
    OtherInsurance.objects.filter(pk=other.pk).delete()
    enrollment.channel, enrollment.channel_reason = Channel.SCHOOL, ""
    year, student = enrollment.insurance_year, enrollment.student
    exemptions = routing.exemptions_by_identity([student.identity_number], insurance_year=year).get(student.identity_number, [])
    new = _target(student=student, school=enrollment.school, year=year, rules=routing.rules_for(year), exemptions=exemptions,
                  existing=enrollment)
    if new["payment_status"] == PaymentStatus.NOT_CHARGED and new["channel"] == Channel.SCHOOL:
        new["payment_status"] = PaymentStatus.UNPAID
    for field, value in new.items():
        setattr(enrollment, field, value)
    enrollment.save()
    roster_touch(roster=roster)
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.INSURED_ELSEWHERE_CANCEL, obj=enrollment, changes=_changes(old, _snapshot(enrollment)),
        school_id=enrollment.school_id, student_id=student.pk, roster_id=roster.pk, note=reason,
    ))
    return enrollment


# --- Follow-up of students sent to other channels -------------------------------------------------------


def may_follow_up(*, user, school: School) -> bool:
    """Bureau staff whose scope covers the school."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    membership = membership_of(user)
    if membership is None or membership.role not in (Role.DISTRICT_STAFF, Role.CITY_STAFF):
        return False
    return School.objects.visible_to(user).filter(pk=school.pk).exists()


def staff_may_correct(*, actor: Actor, school: School) -> bool:
    """Corrections are the bureau's: staff over the school, or the command line and jobs (no user)."""
    if actor.user is None:
        return actor.source in (AuditEvent.Source.SHELL, AuditEvent.Source.JOB)
    return may_follow_up(user=actor.user, school=school)


@transaction.atomic
def other_channel_enrollment_record(
    *, actor: Actor, enrollment: Enrollment, enrolled_on: datetime.date | None, place: str
) -> OtherChannelEnrollment:
    """The bureau records that a student sent to another channel was enrolled there."""
    enrollment = Enrollment.objects.select_for_update().select_related("school", "student").get(pk=enrollment.pk)
    if not may_follow_up(user=actor.user, school=enrollment.school):
        raise PermissionDenied(_("只有该校所属经办机构或市经办人员可以登记跟进结果。"))
    if enrollment.channel not in FOLLOWED_UP_CHANNELS or enrollment.status != EnrollmentStatus.REGISTERED:
        raise ValidationError(_("该学生不属于经村民委员会、民政部门或残联参保的学生，无需跟进。"), code="not_followed_up")
    place = (place or "").strip()
    if not place:
        raise _field_error("place", _("请填写参保地点（如：某村民委员会、某区民政局）。"), "required")
    if enrolled_on is None:
        raise _field_error("enrolled_on", _("请填写参保日期。"), "required")
    if enrolled_on > timezone.localdate():
        raise _field_error("enrolled_on", _("参保日期不能晚于今天。"), "future")
    record, created = OtherChannelEnrollment.objects.update_or_create(
        enrollment=enrollment,
        defaults={"enrolled_on": enrolled_on, "place": place[:100], "recorded_by": _user(actor), "recorded_at": timezone.now()},
    )
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditAction.OTHER_CHANNEL_ENROLLED, obj=enrollment,
        changes={"channel": [None, enrollment.channel], "enrolled_on": [None, enrolled_on], "place": [None, place]},
        school_id=enrollment.school_id, student_id=enrollment.student_id,
    ))
    return record
