"""Which channel a student enrolls through (R6) and which exemption applies (R7).

Both cities' rules live in data: an insurance year's ``ChannelRule`` rows say
which condition sends a student to which channel; the exemption register says
who pays nothing. These functions are pure so the one-student and the
set-based refresh decide exactly alike.
"""

import datetime
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.identity import OUTSIDE_SCHEME
from enrollment.models import (
    Channel,
    ChannelRule,
    Exemption,
    ExemptionSource,
    InsuranceYear,
    MedicalAssistance,
    School,
    Student,
)

Condition = ChannelRule.Condition


def condition_holds(condition: str, *, student: Student, school: School) -> bool:
    if condition == Condition.RURAL_HUKOU:
        return bool(student.hukou_rural)
    if condition == Condition.MEDICAL_ASSISTANCE_CIVIL:
        return student.medical_assistance == MedicalAssistance.CIVIL_AFFAIRS
    if condition == Condition.MEDICAL_ASSISTANCE_DISABLED:
        return student.medical_assistance == MedicalAssistance.DISABLED_FEDERATION
    if condition == Condition.NON_LOCAL_SCHOOL:
        return not school.is_local
    if condition == Condition.PUBLIC_FUNDED_CARE:
        return bool(student.public_funded_care)
    return False


def rules_for(insurance_year: InsuranceYear) -> list[ChannelRule]:
    return list(ChannelRule.objects.filter(insurance_year=insurance_year).order_by("order"))


def _kinds(rule: ChannelRule) -> set[str]:
    return {kind.strip() for kind in (rule.school_kinds or "").split(",") if kind.strip()}


def _reason(rule: ChannelRule) -> str:
    # Computed once per rule: a 50,000-row refresh must not translate the same text 50,000 times.
    cached = getattr(rule, "_reason_text", None)
    if cached is None:
        cached = _("%(condition)s，经%(channel)s参保（规则%(order)s）") % {
            "condition": rule.get_condition_display(),
            "channel": rule.get_channel_display(),
            "order": rule.order,
        }
        rule._reason_text = cached
        rule._kind_set = _kinds(rule)
    return cached


def route(*, student: Student, school: School, rules: Iterable[ChannelRule]) -> tuple[str, str]:
    """(channel, reason): the first rule that matches, else the school's paying roster."""
    # A passport holder (a foreign student without a permanent residence card) is outside the scheme altogether.
    if getattr(student, "document_type", "") in OUTSIDE_SCHEME:
        return Channel.OUTSIDE_SCHEME, _("持护照的外国学生不属于居民医保学校代办范围，不列入本校缴费名单；请按外籍人员的规定另行参保。")
    for rule in rules:
        reason = _reason(rule)
        kinds = rule._kind_set
        if kinds and school.kind not in kinds:
            continue
        if condition_holds(rule.condition, student=student, school=school):
            return rule.channel, reason
    return Channel.SCHOOL, ""


def exemption_days(insurance_year: InsuranceYear, today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """A register row counts when it is valid on the year's coverage start or today."""
    return insurance_year.coverage_start, today or timezone.localdate()


def exemption_validity_q(insurance_year: InsuranceYear, today: datetime.date | None = None) -> Q:
    q = Q()
    for day in exemption_days(insurance_year, today):
        q |= Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))
    return q


def exemptions_by_identity(identity_numbers, *, insurance_year: InsuranceYear, today=None) -> dict[str, list[Exemption]]:
    """Valid register rows keyed by identity number; ``identity_numbers`` may be a list or a subquery."""
    # Only the year's own city's categories apply: a Suzhou list exempts no one in a Guangzhou year.
    rows = (
        Exemption.objects.filter(identity_number__in=identity_numbers, category__city_id=insurance_year.city_id)
        .filter(exemption_validity_q(insurance_year, today))
        .select_related("category")
        .order_by("identity_number", "category__code", "pk")
    )
    found: dict[str, list[Exemption]] = {}
    for row in rows:
        found.setdefault(row.identity_number, []).append(row)
    return found


def pick_exemption(*, student: Student, candidates: Iterable[Exemption]) -> Exemption | None:
    """The first register row that applies to this student, in a stable order."""
    for row in candidates:
        if row.identity_number != student.identity_number:
            continue
        if row.category.local_hukou_only and not student.hukou_local:
            continue
        # The non-local low-income category counts only once bureau staff entered the stamped letter.
        if row.category.requires_letter and row.source != ExemptionSource.CONFIRMATION_LETTER:
            continue
        return row
    return None
