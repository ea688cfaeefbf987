"""Rules every write path shares: the declaration window, the roster lock and the audit trail.

Every service that changes a roster or an enrollment calls these, so the
portal, the API, the admin, imports and nightly jobs are held to the same rule.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import AuditEvent, InsuranceYear, Roster, RosterState, School


class WindowClosed(ValidationError):
    """The declaration window of the insurance year is not open (R12)."""


class RosterLocked(ValidationError):
    """The roster has been confirmed (or billed) and only bureau staff can reopen it."""


@dataclass(frozen=True)
class Actor:
    """Who is making a change and through which entry point; recorded in the audit trail."""

    user: object | None
    source: str
    label: str = ""

    @classmethod
    def job(cls, label: str) -> "Actor":
        return cls(user=None, source=AuditEvent.Source.JOB, label=label)


def check_window_open(*, insurance_year: InsuranceYear, today: datetime.date | None = None) -> None:
    today = today or timezone.localdate()
    # Before the window nothing changes; after it only where the year locks (SZ 5(1)), not where it does not (GZ).
    if not insurance_year.accepts_changes(today):
        message = _("%(year)s申报缴费期为%(start)s至%(end)s，当前不在申报缴费期内，不能修改参保名单。") % {
            "year": str(insurance_year),
            "start": insurance_year.window_start.isoformat(),
            "end": insurance_year.window_end.isoformat(),
        }
        if today > insurance_year.window_end:
            message = f"{message}{after_window_advice(insurance_year=insurance_year)}"
        raise WindowClosed(message, code="window_closed")


def after_window_advice(*, insurance_year: InsuranceYear) -> str:
    """What to do instead once a locked year's window has closed: said on every path that refuses a change."""
    advice = _(
        "本市规定申报缴费期结束后不再受理名单调整和补充登记（含迟录取新生、转入学生）。"
        "尚未参保的学生本年度请持户口簿到户籍所在地的村（居）委会或社区社保工作机构办理居民医保参保，"
        "下一参保年度再由学校在申报缴费期内登记；如有疑问请联系所属经办机构。"
    )
    hotline = insurance_year.city.hotlines.order_by("order").first()
    if hotline is not None:
        advice += _("咨询电话（%(topic)s）：%(phone)s。") % {"topic": hotline.topic, "phone": hotline.phone}
    return advice


def current_insurance_year(*, city_id: int, today: datetime.date | None = None) -> InsuranceYear | None:
    """The year whose window is open today, else the next one to open, else the latest."""
    today = today or timezone.localdate()
    years = InsuranceYear.objects.filter(city_id=city_id)
    return (
        years.filter(window_start__lte=today, window_end__gte=today).order_by("-window_start").first()
        or years.filter(window_start__gt=today).order_by("window_start").first()
        or years.order_by("-window_end").first()
    )


def roster_get_or_create(*, school: School, insurance_year: InsuranceYear) -> Roster:
    roster, _created = Roster.objects.get_or_create(school=school, insurance_year=insurance_year)
    return roster


def check_school_in_scope(*, school: School, insurance_year: InsuranceYear) -> None:
    """The year must apply to the school: Suzhou's covers 市区 only, a school of a county-level city is outside."""
    if not insurance_year.applies_to_school(school):
        raise ValidationError(
            _("%(year)s仅适用于市区学校，本校所属经办机构（%(office)s）不在范围内；请联系经办机构。")
            % {"year": insurance_year, "office": school.office.name},
            code="school_out_of_scope",
        )


def roster_lock_for_change(
    *, school: School, insurance_year: InsuranceYear, today: datetime.date | None = None, adding: bool = True
) -> Roster:
    """Lock the roster row for the rest of the transaction and check it may change.

    Every roster edit takes this lock before writing, and confirmation takes
    the same lock, so an edit racing a confirmation either lands before the
    snapshot is taken or sees the confirmed state and is refused: never after.
    Whatever may put a student on the roster (``adding``: add, edit, import,
    restore, rerouting, confirmation) is refused for a school the year does not
    apply to; taking students off it (removal, a move to another school) is not.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("roster_lock_for_change must run inside a transaction")
    if adding:
        check_school_in_scope(school=school, insurance_year=insurance_year)
    check_window_open(insurance_year=insurance_year, today=today)
    roster_get_or_create(school=school, insurance_year=insurance_year)
    roster = Roster.objects.select_for_update().get(school=school, insurance_year=insurance_year)
    if roster.state != RosterState.OPEN:
        raise RosterLocked(
            _("%(school)s的%(year)s参保名单已确认（状态：%(state)s），不能再修改；如需修改请联系经办机构退回名单。"
              "迟到的学生（迟录取新生、转入学生）请在“学生名册”中逐个新增，在名单页补充确认后随下一次扣费或申报缴费。")
            % {"school": school.name, "year": insurance_year.label, "state": roster.get_state_display()},
            code="roster_locked",
        )
    return roster


def rosters_version_bump(*, rosters: QuerySet[Roster], at: datetime.datetime | None = None) -> int:
    """Every change to a roster's list bumps its version: a confirmation of the list as seen before is refused."""
    return rosters.update(version=F("version") + 1, updated_at=at or timezone.now())


def roster_touch(*, roster: Roster) -> None:
    rosters_version_bump(rosters=Roster.objects.filter(pk=roster.pk))


def audit_record(
    *,
    actor: Actor,
    action: AuditEvent.Action,
    obj,
    changes: dict | None = None,
    school_id: int | None = None,
    student_id: int | None = None,
    roster_id: int | None = None,
    note: str = "",
) -> AuditEvent:
    return AuditEvent.objects.create(**audit_fields(
        actor=actor, action=action, obj=obj, changes=changes, school_id=school_id,
        student_id=student_id, roster_id=roster_id, note=note,
    ))


def audit_fields(
    *, actor: Actor, action: AuditEvent.Action | str, obj, changes=None, school_id=None, student_id=None, roster_id=None, note=""
) -> dict:
    """Field values of an audit row, for services that write many at once with bulk_create.

    ``action`` may be empty only for a template whose rows bring their own (``copy_audit``).
    """
    return {
        **audit_actor_fields(actor),
        "action": AuditEvent.Action(action) if action else "",
        "model": obj._meta.model_name,
        "object_id": obj.pk,
        "school_id": school_id,
        "student_id": student_id,
        "roster_id": roster_id,
        "changes": _jsonable(changes or {}),
        "note": note[:300],
    }


def audit_actor_fields(actor: Actor) -> dict:
    """Who the audit trail names for ``actor``: the user when signed in, else the label of the job or command."""
    user = actor.user if actor.user is not None and getattr(actor.user, "is_authenticated", False) else None
    return {
        "actor": user,
        "actor_label": actor.label or (user.get_username() if user else ""),
        "source": actor.source,
    }


def diff(old: dict, new: dict) -> dict:
    """{field: [old, new]} for the fields whose value changed."""
    return {key: [old.get(key), value] for key, value in new.items() if old.get(key) != value}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
