"""Reminders to lagging schools (R15) as the declaration window closes.

Nightly: a school with students to enroll that is below LAGGING_COVERAGE_PERCENT, or
has not confirmed its roster, gets one reminder per threshold (30, 14, 7 and 1
days before the window closes): a notice on its portal home and an e-mail to
its active coordinators. ``ReminderSent``'s unique constraint makes a second
run, or two runs racing each other, send nothing more.

Bureau staff also remind schools of their choice from the dashboard (``reminders_send_by_staff``): the same
notice and mail, recorded with who sent it and audited.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.models import Coordinator, Notice, ReminderSent
from enrollment.coverage import SchoolCoverage, lagging_schools, school_coverage
from enrollment.models import AuditEvent, InsuranceYear, RosterState, School
from enrollment.services.common import Actor, audit_record

logger = logging.getLogger(__name__)

THRESHOLDS = (30, 14, 7, 1)


def threshold_for(days_left: int) -> int | None:
    """The threshold a day falls under: a run missed on day 14 still reminds on day 13."""
    due = [t for t in THRESHOLDS if t >= days_left]
    return min(due) if due and days_left >= 0 else None


def reminders_send(*, today: datetime.date | None = None) -> int:
    """Remind every lagging school whose window closes within a threshold; return the reminders sent."""
    today = today or timezone.localdate()
    sent = 0
    for year in InsuranceYear.objects.filter(window_start__lte=today, window_end__gte=today).select_related("city"):
        days_left = (year.window_end - today).days
        threshold = threshold_for(days_left)
        if threshold is None:
            continue
        for row in lagging_schools(insurance_year=year, threshold_percent=settings.LAGGING_COVERAGE_PERCENT):
            if reminder_send(insurance_year=year, coverage=row, days_before=threshold, days_left=days_left):
                sent += 1
    return sent


@transaction.atomic
def reminder_send(*, insurance_year: InsuranceYear, coverage: SchoolCoverage, days_before: int, days_left: int) -> bool:
    try:
        # The savepoint lets a duplicate (second run, or a concurrent one) end quietly.
        with transaction.atomic():
            reminder = ReminderSent.objects.create(
                school_id=coverage.school_id, insurance_year=insurance_year, days_before=days_before
            )
    except IntegrityError:
        return False
    title, body = _message(insurance_year=insurance_year, coverage=coverage, days_left=days_left)
    notice = _deliver(insurance_year=insurance_year, school_id=coverage.school_id, title=title, body=body)
    ReminderSent.objects.filter(pk=reminder.pk).update(notice=notice)
    return True


@transaction.atomic
def reminders_send_by_staff(
    *, actor: Actor, insurance_year: InsuranceYear, schools: QuerySet[School], threshold_percent: int,
    today: datetime.date | None = None,
) -> list[ReminderSent]:
    """Remind ``schools`` now (bureau staff, from the dashboard): a portal notice to each school's coordinators.

    ``schools`` is already scoped to the staff member; only those of the year's city are reminded. Each
    reminder is a ``ReminderSent`` row naming who sent it, with what threshold, and the notice (what was sent),
    and an audit event on the school.
    """
    today = today or timezone.localdate()
    days_left = (insurance_year.window_end - today).days if insurance_year.window_is_open(today) else None
    sent = []
    for row in school_coverage(insurance_year=insurance_year, schools=schools):
        title, body = _message(
            insurance_year=insurance_year, coverage=row, days_left=days_left, threshold_percent=threshold_percent
        )
        notice = _deliver(
            insurance_year=insurance_year, school_id=row.school_id, title=title, body=body, published_by=actor.user
        )
        reminder = ReminderSent.objects.create(
            school_id=row.school_id, insurance_year=insurance_year, sent_by=actor.user,
            threshold_percent=threshold_percent, notice=notice,
        )
        audit_record(
            actor=actor, action=AuditEvent.Action.REMINDER_SENT, obj=reminder, school_id=row.school_id, note=title,
            changes={"threshold_percent": threshold_percent, "notice": notice.pk, "rate": row.rate,
                     "roster_state": row.roster_state},
        )
        sent.append(reminder)
    return sent


def _deliver(*, insurance_year: InsuranceYear, school_id: int, title: str, body: str, published_by=None) -> Notice:
    """The reminder on the school's portal home, and by mail to its active coordinators once committed."""
    notice = Notice.objects.create(
        kind=Notice.Kind.REMINDER, title=title, body=body, school_id=school_id, city_id=insurance_year.city_id,
        published_by=published_by,
    )
    recipients = list(
        Coordinator.objects.filter(school_id=school_id, active=True).exclude(email="").values_list("email", flat=True)
    )
    if recipients:
        transaction.on_commit(lambda: _mail(title=title, body=body, recipients=recipients, school_id=school_id))
    return notice


def _message(
    *, insurance_year: InsuranceYear, coverage: SchoolCoverage, days_left: int | None, threshold_percent: int | None = None
) -> tuple[str, str]:
    target = threshold_percent if threshold_percent is not None else settings.LAGGING_COVERAGE_PERCENT
    if days_left is not None:
        title = _("参保提醒：%(year)s申报缴费期还有%(days)d天结束") % {"year": insurance_year.label, "days": days_left}
    else:
        title = _("参保提醒：%(year)s参保缴费情况") % {"year": insurance_year.label}
    lines = [_("%(school)s：") % {"school": coverage.name}]
    if days_left is not None:
        lines.append(
            _("%(year)s申报缴费期将于%(end)s结束，逾期不再受理名单调整和补缴。")
            % {"year": str(insurance_year), "end": insurance_year.window_end.isoformat()}
        )
    if coverage.roster_state not in (RosterState.CONFIRMED, RosterState.BILLED, RosterState.SETTLED):
        lines.append(_("贵校尚未确认本年度参保名单，请尽快核对并确认。"))
    if coverage.rate is not None and coverage.rate < target:
        lines.append(
            _("贵校应参保%(expected)d人，已缴费或补助%(settled)d人，参保率%(rate)s%%，低于%(target)d%%。")
            % {"expected": coverage.expected, "settled": coverage.settled, "rate": coverage.rate, "target": target}
        )
    lines.append(_("请做到应保尽保。如有疑问请联系所属经办机构。"))
    return title, "\n".join(lines)


def _mail(*, title: str, body: str, recipients: list[str], school_id: int) -> None:
    try:
        send_mass_mail([(title, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients])
    except Exception:
        # The notice on the portal stands even when the mail server is down; the failure is logged, not retried,
        # because a retry would risk sending the same reminder twice.
        logger.exception("reminder mail failed", extra={"school_id": school_id})
