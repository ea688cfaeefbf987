"""The exemption register (R7): lists from civil affairs, the trade union federation and the disabled
persons' federation, and the stamped letters bureau staff enter for non-local low-income students.

Imports are two-phase: every row is checked first and nothing is written if
one is wrong. Once the register changes, the students it names are brought in
line: an open roster is refreshed, a confirmed roster's snapshot is corrected
before billing, and a billed student gets a refund correction.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import identity, routing, rules
from enrollment.imports import intake
from enrollment.models import (
    ZERO,
    AuditEvent,
    ChargeCorrection,
    ConfirmationLine,
    Enrollment,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    InsuranceYear,
    PaymentStatus,
    Roster,
    RosterConfirmation,
    RosterState,
    Student,
)
from enrollment.querysets import membership_city_id, membership_of
from enrollment.services.common import Actor, audit_fields
from enrollment.uploads import check_upload

COLUMNS = {
    "identity_number": ("身份证号码", "身份证号", "公民身份号码", "identity_number"),
    "name": ("姓名", "name"),
    "category": ("免缴类别", "类别", "人员类别", "category"),
    "valid_from": ("有效期起", "开始日期", "起始日期", "valid_from"),
    "valid_to": ("有效期止", "结束日期", "截止日期", "valid_to"),
}
COLUMN_LABELS = {"identity_number": "身份证号码", "name": "姓名", "category": "免缴类别", "valid_from": "有效期起", "valid_to": "有效期止"}
LIST_SOURCES = {ExemptionSource.CIVIL_AFFAIRS, ExemptionSource.TRADE_UNION, ExemptionSource.DISABLED_FEDERATION}


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def __str__(self):
        return _("第%(row)s行，%(column)s：%(message)s") % {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ImportResult:
    file_name: str
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    expired: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: dict = field(default_factory=dict)
    # Rows taken into the register that exempt nobody today, with why (not errors: the row is kept).
    notes: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "file_name": self.file_name, "total": self.total, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "expired": self.expired, "applied": self.applied,
            "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in self.errors],
            "notes": [{"row": e.row, "column": e.column, "message": e.message} for e in self.notes],
        }


# --- Reading files -----------------------------------------------------------


def _read_table(upload, file_name: str) -> list[list]:
    # The one intake for uploaded lists: real type, size and archive checks, calamine, CSV in UTF-8 or GBK.
    return intake.read_rows(upload, file_name)


def _rows_from_table(table: list[list], file_name: str) -> list[dict]:
    if not table:
        raise ValidationError(_("文件%(file)s是空的。") % {"file": file_name}, code="empty")
    positions = intake.map_columns(table[0], COLUMNS, required=("identity_number", "category", "valid_from"), labels=COLUMN_LABELS)
    rows = []
    for values in table[1:]:
        if not any(str(v if v is not None else "").strip() for v in values):
            rows.append(None)  # keep row numbers true to the file
            continue
        rows.append({key: (values[i] if i < len(values) else None) for key, i in positions.items()})
    return rows


def _canonical_keys(row: dict) -> dict:
    """Rows given as dicts may use the file's Chinese headers or the field names."""
    aliases = {name: key for key, names in COLUMNS.items() for name in names}
    return {aliases.get(str(k).strip(), k): v for k, v in dict(row).items()}


# --- Validation ----------------------------------------------------------------


def _parse_date(value) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _categories(city_id: int) -> dict[str, ExemptionCategory]:
    """The city's own categories by code and name: a list never names another city's category."""
    found = {}
    for category in ExemptionCategory.objects.filter(city_id=city_id):
        found[category.code.lower()] = category
        found[category.name] = category
    return found


def _optional_name(value) -> str | ValidationError:
    """A blank name stays blank; any other is checked by the students' name rule (no silent cutting at 50)."""
    if value is None or not str(value).strip():
        return ""
    try:
        return rules.name(value)
    except ValidationError as exc:
        return exc


def _validate(rows: list[dict | None], *, source: str, offset: int, city_id: int) -> tuple[list[dict], list[RowError]]:
    categories = _categories(city_id)
    clean, errors, seen = [], [], {}
    for index, row in enumerate(rows):
        number = index + offset
        if row is None:
            continue
        row_errors = []
        try:
            identity_number = identity.validate(row.get("identity_number"))
        except ValidationError as exc:
            identity_number = None
            row_errors.append(RowError(number, COLUMN_LABELS["identity_number"], " ".join(exc.messages)))
        raw_category = str(row.get("category") or "").strip()
        category = categories.get(raw_category) or categories.get(raw_category.lower())
        if category is None:
            row_errors.append(RowError(
                number, COLUMN_LABELS["category"],
                _("免缴类别“%(value)s”不是本市的免缴类别，请填写类别名称或代码。") % {"value": raw_category} if raw_category else _("免缴类别不能为空。"),
            ))
        elif category.requires_letter:
            row_errors.append(RowError(
                number, COLUMN_LABELS["category"],
                _("“%(name)s”须由经办机构录入盖章确认函，不能通过名单导入。") % {"name": category.name},
            ))
        dates = {}
        for key in ("valid_from", "valid_to"):
            try:
                dates[key] = _parse_date(row.get(key))
            except ValueError:
                dates[key] = None
                row_errors.append(RowError(number, COLUMN_LABELS[key], _("日期“%(value)s”无法识别，请填写如2019-09-01。") % {"value": row.get(key)}))
        if dates.get("valid_from") is None and not any(e.column == COLUMN_LABELS["valid_from"] for e in row_errors):
            row_errors.append(RowError(number, COLUMN_LABELS["valid_from"], _("有效期起不能为空。")))
        if dates.get("valid_from") and dates.get("valid_to") and dates["valid_to"] < dates["valid_from"]:
            row_errors.append(RowError(number, COLUMN_LABELS["valid_to"], _("有效期止早于有效期起。")))
        # The name is optional in the register; given, it follows the rule of names on identity documents.
        name = _optional_name(row.get("name"))
        if isinstance(name, ValidationError):
            row_errors.append(RowError(number, COLUMN_LABELS["name"], " ".join(name.messages)))
        if identity_number and category is not None:
            key = (identity_number, category.pk)
            if key in seen:
                row_errors.append(RowError(
                    number, COLUMN_LABELS["identity_number"], _("与第%(row)s行重复。") % {"row": seen[key]}
                ))
            seen[key] = number
        if row_errors:
            errors.extend(row_errors)
            continue
        clean.append({
            "row": number,
            "identity_number": identity_number,
            "name": name,
            "category": category,
            "valid_from": dates["valid_from"],
            "valid_to": dates["valid_to"],
            "source": source,
        })
    return clean, errors


# --- Import ------------------------------------------------------------------


def actor_city_id(actor: Actor, city_id: int | None = None) -> int | None:
    """The city whose register the actor keeps: their own; a superuser names it."""
    membership = membership_of(actor.user)
    own = membership_city_id(membership)
    if membership is not None:
        if own is None or (city_id is not None and city_id != own):
            raise PermissionDenied(_("只能维护本市的免缴人员数据库。"))
        return own
    return city_id


def exemptions_import(
    *, actor: Actor, source: str, rows: Iterable[dict] | object, file_name: str, city_id: int | None = None
) -> ImportResult:
    """Validate every row against the city's categories, then upsert the register in one transaction and apply it."""
    result = ImportResult(file_name=file_name)
    city_id = actor_city_id(actor, city_id)
    if city_id is None:
        result.errors.append(RowError(0, _("城市"), _("请选择名单所属的城市。")))
        return result
    if source not in LIST_SOURCES:
        result.errors.append(RowError(0, _("数据来源"), _("数据来源“%(value)s”无效。") % {"value": source}))
        return result

    if isinstance(rows, list | tuple) or (hasattr(rows, "__iter__") and not hasattr(rows, "read")):
        parsed = [_canonical_keys(row) if row else None for row in rows]
        offset = 1
    else:
        try:
            parsed = _rows_from_table(_read_table(rows, file_name), file_name)
        except ValidationError as exc:
            result.errors.append(RowError(1, _("文件"), " ".join(exc.messages)))
            return result
        offset = 2  # the header is row 1 of the file
    clean, errors = _validate(parsed, source=source, offset=offset, city_id=city_id)
    result.total = len(clean) + len({e.row for e in errors})
    if errors:
        result.errors = errors
        return result
    with transaction.atomic():
        _write(actor=actor, clean=clean, result=result)
        result.applied = exemptions_apply(actor=actor, identity_numbers=[c["identity_number"] for c in clean])
    result.notes = _not_exempted(clean)
    return result


def _not_exempted(clean: list[dict]) -> list[RowError]:
    """Why a listed person is not exempted today, per row, by the rules ``routing.pick_exemption`` applies."""
    today = timezone.localdate()
    students = {
        s.identity_number: s
        for s in Student.objects.filter(identity_number__in=[c["identity_number"] for c in clean]).only("identity_number", "hukou_local")
    }
    notes = []
    column = COLUMN_LABELS["identity_number"]
    for c in clean:
        student, category = students.get(c["identity_number"]), c["category"]
        if c["valid_to"] is not None and c["valid_to"] < today:
            message = _("有效期已于%(day)s结束，本年度不予免缴。") % {"day": c["valid_to"].isoformat()}
        elif student is None:
            message = _("尚无该身份证号码的在册学生：学校登记该学生后将自动免缴。")
        elif category.local_hukou_only and not student.hukou_local:
            message = _("该学生为非本市户籍，“%(category)s”仅限本市户籍，未予免缴；非本市户籍低保学生须由经办机构录入盖章确认函。") % {
                "category": category.name}
        else:
            continue
        notes.append(RowError(c["row"], column, message))
    return notes


def _write(*, actor: Actor, clean: list[dict], result: ImportResult) -> None:
    today = timezone.localdate()
    numbers = [c["identity_number"] for c in clean]
    existing = {
        (e.identity_number, e.category_id): e
        for e in Exemption.objects.select_for_update().filter(identity_number__in=numbers, source=clean[0]["source"] if clean else "")
    }
    now = timezone.now()
    to_create, to_update, audit_rows = [], [], []
    for c in clean:
        if c["valid_to"] is not None and c["valid_to"] < today:
            result.expired += 1
        current = existing.get((c["identity_number"], c["category"].pk))
        values = {"name": c["name"], "valid_from": c["valid_from"], "valid_to": c["valid_to"]}
        if current is None:
            row = Exemption(
                identity_number=c["identity_number"], category=c["category"], source=c["source"],
                entered_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
                created_at=now, updated_at=now, **values,
            )
            to_create.append(row)
            audit_rows.append((row, {k: [None, v] for k, v in values.items()} | {"category": [None, c["category"].code]}, AuditEvent.Action.EXEMPTION_CREATE))
            continue
        changes = {k: [getattr(current, k), v] for k, v in values.items() if getattr(current, k) != v}
        if not changes:
            result.unchanged += 1
            continue
        for k, v in values.items():
            setattr(current, k, v)
        current.updated_at = now
        to_update.append(current)
        audit_rows.append((current, changes, AuditEvent.Action.EXEMPTION_UPDATE))
    Exemption.objects.bulk_create(to_create, batch_size=2000)
    Exemption.objects.bulk_update(to_update, ["name", "valid_from", "valid_to", "updated_at"], batch_size=1000)
    result.created, result.updated = len(to_create), len(to_update)
    # Identity numbers stay out of the audit note; the object id points at the register row.
    AuditEvent.objects.bulk_create(
        [AuditEvent(**audit_fields(actor=actor, action=action, obj=row, changes=changes), at=now) for row, changes, action in audit_rows],
        batch_size=2000,
    )


# --- Letters -----------------------------------------------------------------


@transaction.atomic
def exemption_letter_register(
    *, actor: Actor, identity_number, name, valid_from, valid_to, letter, city_id: int | None = None
) -> Exemption:
    """Enter a stamped confirmation letter for a non-local low-income university student."""
    city_id = actor_city_id(actor, city_id)
    errors = {}
    try:
        number = identity.validate(identity_number)
    except ValidationError as exc:
        errors["identity_number"] = exc.messages
        number = None
    category = ExemptionCategory.objects.filter(requires_letter=True, city_id=city_id).order_by("code").first()
    if category is None:
        errors["category"] = [_("本市没有需确认函的免缴类别，不能录入确认函。")]
    checked_name = _optional_name(name)
    if isinstance(checked_name, ValidationError):
        errors["name"] = checked_name.messages
    if not valid_from:
        errors["valid_from"] = [_("有效期起不能为空。")]
    elif valid_to and valid_to < valid_from:
        errors["valid_to"] = [_("有效期止早于有效期起。")]
    limit = getattr(settings, "UPLOAD_MAX_BYTES", None) or 5 * 1024 * 1024
    kind = None
    if letter is None:
        errors["letter"] = [_("请上传盖章确认函（PDF或JPEG）。")]
    else:
        # The uploads' one check: size first, then the real type from the bytes, whatever the name says.
        try:
            kind = {"pdf": "pdf", "jpeg": "jpg"}[check_upload(letter, kinds={"pdf", "jpeg"}, max_bytes=limit)]
        except ValidationError as exc:
            errors["letter"] = exc.messages
    if errors:
        raise ValidationError(errors)

    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    row = Exemption.objects.select_for_update().filter(
        identity_number=number, category=category, source=ExemptionSource.CONFIRMATION_LETTER
    ).first()
    created = row is None
    old = {} if created else {"name": row.name, "valid_from": row.valid_from, "valid_to": row.valid_to, "evidence": row.evidence.name}
    row = row or Exemption(identity_number=number, category=category, source=ExemptionSource.CONFIRMATION_LETTER)
    row.name = checked_name
    row.valid_from, row.valid_to, row.entered_by = valid_from, valid_to, user
    # A random stored name: the identity number never appears in a file path.
    row.evidence.save(f"letter-{timezone.now():%Y%m%d%H%M%S}.{kind}", letter, save=False)
    row.save()
    new = {"name": row.name, "valid_from": row.valid_from, "valid_to": row.valid_to, "evidence": row.evidence.name}
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditEvent.Action.EXEMPTION_CREATE if created else AuditEvent.Action.EXEMPTION_UPDATE, obj=row,
        changes={k: [old.get(k), v] for k, v in new.items() if old.get(k) != v},
    ))
    exemptions_apply(actor=actor, identity_numbers=[number])
    return row


# --- Applying the register to rosters ----------------------------------------


def exemptions_apply(*, actor: Actor, identity_numbers: list[str]) -> dict:
    """Bring the students named by ``identity_numbers`` in line with the register, per roster state.

    Only years whose declaration window is open are touched (R12: nothing
    changes afterwards); the register itself is kept whatever the date.
    """
    from enrollment.services.enrollments import enrollments_refresh_bulk

    counts = {"refreshed": 0, "snapshot_lines": 0, "refunds": 0, "skipped_window_closed": 0}
    if not identity_numbers:
        return counts
    today = timezone.localdate()
    students = Student.objects.filter(identity_number__in=identity_numbers)
    pairs = students.values_list("school_id", "school__office__city_id").distinct()
    by_city: dict[int, set[int]] = {}
    for school_id, city_id in pairs:
        by_city.setdefault(city_id, set()).add(school_id)
    for city_id, school_ids in by_city.items():
        years = InsuranceYear.objects.filter(Q(window_end__gte=today) | Q(locked_after_window=False), city_id=city_id)
        for year in years.order_by("pk"):
            if not year.accepts_changes(today):
                counts["skipped_window_closed"] += 1
                continue
            for roster in (
                Roster.objects.filter(insurance_year=year, school_id__in=school_ids)
                .select_related("school__office", "insurance_year").order_by("pk")
            ):
                if not year.applies_to_school(roster.school):
                    continue  # a county-level school's roster left from before the rule: the year does not apply
                ids = list(students.filter(school_id=roster.school_id).values_list("pk", flat=True))
                if roster.state == RosterState.OPEN:
                    counts["refreshed"] += enrollments_refresh_bulk(actor=actor, roster=roster, student_ids=ids)
                elif roster.state == RosterState.CONFIRMED:
                    counts["snapshot_lines"] += _apply_to_snapshot(actor=actor, roster=roster, student_ids=ids)
                else:
                    counts["refunds"] += _refund_billed(actor=actor, roster=roster, student_ids=ids)
            # Schools that have no roster yet get theirs when they first enroll; nothing to correct.
    return counts


def _exempt_targets(*, roster: Roster, student_ids: list[int]):
    """(enrollment, exemption) for the roster's paying enrollments that the register now exempts."""
    year = roster.insurance_year
    enrollments = list(
        Enrollment.objects.select_for_update().filter(
            insurance_year=year, school_id=roster.school_id, student_id__in=student_ids,
            channel="school", status="registered", exemption_category__isnull=True,
        ).select_related("student")
    )
    found = routing.exemptions_by_identity([e.student.identity_number for e in enrollments], insurance_year=year)
    for enrollment in enrollments:
        exemption = routing.pick_exemption(student=enrollment.student, candidates=found.get(enrollment.student.identity_number, ()))
        if exemption is not None:
            yield enrollment, exemption


@transaction.atomic
def _apply_to_snapshot(*, actor: Actor, roster: Roster, student_ids: list[int]) -> int:
    """Confirmed but not billed: the exempt student's line drops to 0 before anything is charged."""
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    if locked.state != RosterState.CONFIRMED:
        return 0
    changed, touched = 0, set()
    for enrollment, exemption in _exempt_targets(roster=locked, student_ids=student_ids):
        old = {"fee_due": enrollment.fee_due, "exemption_category_id": None, "payment_status": enrollment.payment_status}
        _exempt(enrollment, exemption)
        # The student's line in force: on the first confirmation, or on a supplementary one (a late student).
        line = ConfirmationLine.objects.filter(enrollment=enrollment, live=True, confirmation__roster=locked).first()
        if line is not None:
            ConfirmationLine.objects.filter(pk=line.pk).update(fee=ZERO, exemption_category_id=exemption.category_id)
            touched.add(line.confirmation_id)
        AuditEvent.objects.create(**audit_fields(
            actor=actor, action=AuditEvent.Action.ENROLLMENT_EXEMPT_AFTER_CONFIRM, obj=enrollment,
            changes={k: [v, getattr(enrollment, k)] for k, v in old.items()},
            school_id=locked.school_id, student_id=enrollment.student_id, roster_id=locked.pk,
        ))
        changed += 1
    if touched:
        from enrollment.services.rosters import confirmation_totals_refresh

        for confirmation in RosterConfirmation.objects.filter(pk__in=touched):
            confirmation_totals_refresh(confirmation=confirmation)
    return changed


@transaction.atomic
def _refund_billed(*, actor: Actor, roster: Roster, student_ids: list[int]) -> int:
    """Billed or paid: what was charged comes back as a refund correction billing acts on."""
    locked = Roster.objects.select_for_update().get(pk=roster.pk)
    made = 0
    for enrollment, exemption in _exempt_targets(roster=locked, student_ids=student_ids):
        # What the line in force charged (first or supplementary confirmation).
        line = ConfirmationLine.objects.filter(enrollment=enrollment, live=True, confirmation__roster=locked).first()
        charged = line.fee if line else ZERO
        charged += ChargeCorrection.objects.filter(
            enrollment=enrollment, reason=ChargeCorrection.Reason.FEE_STANDARD
        ).exclude(state=ChargeCorrection.State.CANCELLED).aggregate(total=Sum("amount"))["total"] or ZERO
        old = {"fee_due": enrollment.fee_due, "exemption_category_id": None}
        _exempt(enrollment, exemption, keep_payment=True)
        AuditEvent.objects.create(**audit_fields(
            actor=actor, action=AuditEvent.Action.ENROLLMENT_EXEMPT_AFTER_BILLING, obj=enrollment,
            changes={k: [v, getattr(enrollment, k)] for k, v in old.items()},
            school_id=locked.school_id, student_id=enrollment.student_id, roster_id=locked.pk,
        ))
        open_exists = ChargeCorrection.objects.filter(
            enrollment=enrollment, reason=ChargeCorrection.Reason.EXEMPTION,
            state__in=[ChargeCorrection.State.PENDING, ChargeCorrection.State.IN_BILLING],
        ).exists()
        if charged > 0 and not open_exists:
            correction = ChargeCorrection.objects.create(
                enrollment=enrollment, amount=-charged, reason=ChargeCorrection.Reason.EXEMPTION,
                # The reason's label says what happened; the detail names only the category.
                detail=exemption.category.name,
            )
            AuditEvent.objects.create(**audit_fields(
                actor=actor, action=AuditEvent.Action.CHARGE_CORRECTION, obj=correction, changes={"amount": [None, correction.amount]},
                school_id=locked.school_id, student_id=enrollment.student_id, roster_id=locked.pk,
            ))
            made += 1
    return made


def _exempt(enrollment: Enrollment, exemption: Exemption, *, keep_payment: bool = False) -> None:
    enrollment.fee_due = ZERO
    enrollment.exemption = exemption
    enrollment.exemption_category_id = exemption.category_id
    fields = ["fee_due", "exemption", "exemption_category", "updated_at"]
    if not keep_payment:
        enrollment.payment_status = PaymentStatus.FUNDED
        fields.append("payment_status")
    enrollment.save(update_fields=fields)
