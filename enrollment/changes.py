"""Change records (audit trail, coordinator registry history) in words people read: "手机：138… → 139…".

Changes are stored as JSON keyed by field name, ``{"mobile": [before, after]}`` (or a plain value for what was
set). Shown, each key becomes the field's verbose name and each coded value its choice label; keys that are not
fields keep a label from ``extra`` or, failing that, their own name.
"""

from django.apps import apps
from django.db import models
from django.utils.translation import gettext as _


def model_named(model_name: str) -> type[models.Model] | None:
    """The project model whose ``_meta.model_name`` is ``model_name`` (audit rows store only that), if one."""
    found = [m for m in apps.get_models() if m._meta.model_name == model_name]
    return found[0] if len(found) == 1 else None


def shown(value) -> str:
    if value is None or value == "":
        return ""
    if value is True:
        return str(_("是"))
    if value is False:
        return str(_("否"))
    if isinstance(value, list | tuple):
        return "、".join(shown(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{shown(v)}" for k, v in value.items())
    return str(value)


def change_lines(model: type[models.Model] | None, changes, extra: dict | None = None) -> list[tuple[str, str | None, str]]:
    """(label, before or None when only the new value is known, after) per changed item."""
    if not isinstance(changes, dict):
        return [(str(_("变更内容")), None, shown(changes))] if changes else []
    lines = []
    for key, value in changes.items():
        label, choices = (extra or {}).get(key, key), {}
        if model is not None:
            try:
                field = model._meta.get_field(key)
            except models.FieldDoesNotExist:
                pass
            else:
                label = getattr(field, "verbose_name", key)
                choices = dict(field.flatchoices) if getattr(field, "choices", None) else {}
        if isinstance(value, list | tuple) and len(value) == 2:
            before, after = (choices.get(v, v) if isinstance(v, str | int) else v for v in value)
            lines.append((str(label), shown(before), shown(after)))
        else:
            lines.append((str(label), None, shown(choices.get(value, value) if isinstance(value, str | int) else value)))
    return lines


def change_text(model: type[models.Model] | None, changes, extra: dict | None = None) -> str:
    """One line per change, "label：before → after" (or "label：value"), for the admin's read-only fields."""
    return "\n".join(
        f"{label}：{after}" if before is None else f"{label}：{before or _('（空）')} → {after or _('（空）')}"
        for label, before, after in change_lines(model, changes, extra)
    )
