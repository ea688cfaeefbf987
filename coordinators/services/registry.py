"""The coordinator registry (R4): each school's coordinators as annex 2 lists them, with full history."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.models import Coordinator, CoordinatorChange
from enrollment.models import AuditEvent, School, Sex
from enrollment.services.common import Actor, audit_record, diff

FIELDS = ["name", "gender", "department", "post", "work_phone", "mobile", "email"]
_MOBILE = re.compile(r"^1[0-9]{10}$")
_PHONE = re.compile(r"^[0-9()（）\-\s转+]{7,30}$")


def _clean(data: dict) -> dict:
    values = {key: str(data.get(key) or "").strip() for key in FIELDS}
    errors = {}
    for key in ("name", "gender", "department", "post", "work_phone", "mobile"):
        if not values[key]:
            errors[key] = _("此项必须填写。")
    if values["gender"] and values["gender"] not in Sex.values:
        errors["gender"] = _("性别应为男或女。")
    values["mobile"] = values["mobile"].replace(" ", "").replace("-", "")
    if values["mobile"] and not _MOBILE.match(values["mobile"]):
        errors["mobile"] = _("手机号码应为11位数字，以1开头。")
    if values["work_phone"] and not _PHONE.match(values["work_phone"]):
        errors["work_phone"] = _("工作电话格式不正确，例如 020-87654321。")
    if errors:
        raise ValidationError({k: ValidationError(v, code="invalid") for k, v in errors.items()})
    return values


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "is_authenticated", False) else None


@transaction.atomic
def coordinator_register(*, actor: Actor, school: School, data: dict, user=None) -> Coordinator:
    values = _clean(data)
    coordinator = Coordinator.objects.create(school=school, user=user, **values)
    CoordinatorChange.objects.create(
        coordinator=coordinator, changed_by=_user(actor), action=CoordinatorChange.Action.REGISTER, changes={k: [None, v] for k, v in values.items()}
    )
    audit_record(actor=actor, action=AuditEvent.Action.COORDINATOR_REGISTER, obj=coordinator, school_id=school.pk)
    return coordinator


@transaction.atomic
def coordinator_update(*, actor: Actor, coordinator: Coordinator, data: dict) -> Coordinator:
    values = _clean({**{k: getattr(coordinator, k) for k in FIELDS}, **data})
    coordinator = Coordinator.objects.select_for_update().get(pk=coordinator.pk)
    changes = diff({k: getattr(coordinator, k) for k in FIELDS}, values)
    if not changes:
        return coordinator
    for key, value in values.items():
        setattr(coordinator, key, value)
    coordinator.save()
    CoordinatorChange.objects.create(coordinator=coordinator, changed_by=_user(actor), action=CoordinatorChange.Action.UPDATE, changes=changes)
    audit_record(actor=actor, action=AuditEvent.Action.COORDINATOR_UPDATE, obj=coordinator, changes=changes, school_id=coordinator.school_id)
    return coordinator


@transaction.atomic
def coordinator_deactivate(*, actor: Actor, coordinator: Coordinator, reason: str = "") -> Coordinator:
    coordinator = Coordinator.objects.select_for_update().get(pk=coordinator.pk)
    if not coordinator.active:
        return coordinator
    coordinator.active = False
    coordinator.save(update_fields=["active", "updated_at"])
    CoordinatorChange.objects.create(
        coordinator=coordinator, changed_by=_user(actor), action=CoordinatorChange.Action.DEACTIVATE,
        changes={"active": [True, False], "reason": [None, reason[:200]], "on": [None, timezone.localdate().isoformat()]},
    )
    audit_record(actor=actor, action=AuditEvent.Action.COORDINATOR_DEACTIVATE, obj=coordinator, school_id=coordinator.school_id, note=reason)
    return coordinator
