"""Recording that a class's personal rights records and vouchers were handed out (R17)."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.models import Handout
from coordinators.selectors_documents import record_enrollments
from enrollment.models import AuditEvent, InsuranceYear, School
from enrollment.services.common import Actor, audit_record


@transaction.atomic
def record_handout(
    *, actor: Actor, school: School, insurance_year: InsuranceYear, class_name: str,
    handed_out_on: datetime.date,
) -> Handout:
    """Record (or correct the date of) a class's hand-out; one row per school, year and class."""
    if handed_out_on > timezone.localdate():
        raise ValidationError({"handed_out_on": _("发放日期不能晚于今天。")}, code="future_date")
    if not record_enrollments(school=school, insurance_year=insurance_year, class_name=class_name).exists():
        raise ValidationError(
            {"class_name": _("本校%(year)s参保年度没有“%(cls)s”班的参保学生。") % {"year": insurance_year.label, "cls": class_name}},
            code="unknown_class",
        )
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    # update_or_create relies on the (school, year, class) unique constraint: two coordinators
    # recording the same class at once end with one row, not two.
    handout, created = Handout.objects.update_or_create(
        school=school, insurance_year=insurance_year, class_name=class_name,
        defaults={"handed_out_on": handed_out_on, "recorded_by": user},
    )
    audit_record(
        actor=actor, action=AuditEvent.Action.HANDOUT_RECORDED if created else AuditEvent.Action.HANDOUT_UPDATED, obj=handout, school_id=school.pk,
        changes={"class_name": class_name, "handed_out_on": handed_out_on},
    )
    return handout
