"""Enrollment of students in an insurance year: channel, exemption and fee, one student or thousands.

The same decision (``_target``) serves the one-student refresh and the
set-based refresh the Excel import uses, so a student ends up the same
whichever door the change came through. Every write takes the roster lock
first: the window and the roster's state are enforced here, not by callers.
"""

from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import execute_values

from enrollment import routing
from enrollment.models import (
    ZERO,
    AuditEvent,
    Channel,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    PaymentStatus,
    Roster,
    School,
    Student,
    StudentStatus,
)
from enrollment.services.common import Actor, audit_fields, roster_lock_for_change, roster_touch

TRACKED = (
    "school_id",
    "channel",
    "channel_reason",
    "status",
    "status_reason",
    "fee_due",
    "exemption_id",
    "exemption_category_id",
    "payment_status",
)

# Payment states billing owns: a refresh never rewrites them.
BILLING_OWNED = {PaymentStatus.BILLED, PaymentStatus.PAID, PaymentStatus.REFUNDED}


def auto_removal_reasons() -> dict[str, str]:
    return {StudentStatus.GRADUATED: _("学生已毕业"), StudentStatus.LEFT: _("学生已离校")}


def _snapshot(enrollment: Enrollment | None) -> dict:
    if enrollment is None:
        return {}
    return {field: getattr(enrollment, field) for field in TRACKED}


def _target(
    *, student: Student, school: School, year: InsuranceYear, rules, exemptions, existing: Enrollment | None, auto=None
) -> dict:
    """The values the enrollment should hold, decided from the student, the year's rules and the register."""
    channel, channel_reason = routing.route(student=student, school=school, rules=rules)
    auto = auto or auto_removal_reasons()

    if student.status in auto:
        status, status_reason = EnrollmentStatus.REMOVED, auto[student.status]
    elif existing is None:
        status, status_reason = EnrollmentStatus.REGISTERED, ""
    elif existing.status == EnrollmentStatus.REMOVED and existing.status_reason in auto.values():
        # The student came back (status corrected to in school): the automatic removal is undone.
        status, status_reason = EnrollmentStatus.REGISTERED, ""
    else:
        # A removal by hand or a deregistration by the graduates run sticks.
        status, status_reason = existing.status, existing.status_reason

    exemption = None
    if channel == Channel.SCHOOL:
        exemption = routing.pick_exemption(student=student, candidates=exemptions)

    paying = channel == Channel.SCHOOL and status == EnrollmentStatus.REGISTERED and exemption is None
    fee_due = year.fee_standard if paying else ZERO

    if existing is not None and existing.payment_status in BILLING_OWNED:
        payment_status = existing.payment_status
    elif channel != Channel.SCHOOL:
        payment_status = PaymentStatus.NOT_CHARGED
    elif exemption is not None:
        payment_status = PaymentStatus.FUNDED
    else:
        payment_status = PaymentStatus.UNPAID

    return {
        "school_id": school.pk,
        "channel": channel,
        "channel_reason": channel_reason[:200],
        "status": status,
        "status_reason": status_reason[:200],
        "fee_due": fee_due,
        "exemption_id": exemption.pk if exemption else None,
        "exemption_category_id": exemption.category_id if exemption else None,
        "payment_status": payment_status,
    }


def _changes(old: dict, new: dict) -> dict:
    return {key: [old.get(key), value] for key, value in new.items() if old.get(key) != value}


def _lock_rosters(*, school_ids, insurance_year: InsuranceYear) -> dict[int, Roster]:
    """Lock every roster a change touches, in school order so two writers cannot deadlock."""
    locked = {}
    for school in School.objects.filter(pk__in=set(school_ids)).order_by("pk"):
        locked[school.pk] = roster_lock_for_change(school=school, insurance_year=insurance_year)
    return locked


@transaction.atomic
def enrollment_refresh(*, actor: Actor, student: Student, insurance_year: InsuranceYear) -> Enrollment:
    """Create or update the one enrollment of ``student`` for ``insurance_year``."""
    school = student.school
    existing = Enrollment.objects.filter(student=student, insurance_year=insurance_year).first()
    rosters = _lock_rosters(
        school_ids={school.pk} | ({existing.school_id} if existing else set()), insurance_year=insurance_year
    )
    # Read again under the roster lock: a concurrent refresh of the same student may have created it.
    existing = Enrollment.objects.select_for_update().filter(student=student, insurance_year=insurance_year).first()
    if existing is not None and existing.school_id not in rosters:
        raise ValidationError(_("该学生的参保登记刚被其他操作修改，请重试。"), code="conflict")

    rules = routing.rules_for(insurance_year)
    exemptions = routing.exemptions_by_identity([student.identity_number], insurance_year=insurance_year).get(
        student.identity_number, []
    )
    old = _snapshot(existing)
    new = _target(student=student, school=school, year=insurance_year, rules=rules, exemptions=exemptions, existing=existing)
    changes = _changes(old, new)
    if existing is not None and not changes:
        return existing

    enrollment = existing or Enrollment(student=student, insurance_year=insurance_year)
    for field, value in new.items():
        setattr(enrollment, field, value)
    enrollment.save()

    for school_id in {new["school_id"], old.get("school_id")} - {None}:
        roster_touch(roster=rosters[school_id])
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action="enrollment_create" if existing is None else "enrollment_update",
        obj=enrollment,
        changes=changes,
        school_id=school.pk,
        student_id=student.pk,
        roster_id=rosters[school.pk].pk,
    ))
    return enrollment


@transaction.atomic
def enrollments_refresh_bulk(*, actor: Actor, roster: Roster, student_ids: list[int] | None = None) -> int:
    """Refresh the enrollments of a school's students (all, or ``student_ids``) in a few statements.

    Returns how many enrollments were created or changed. One audit row per
    changed enrollment, written with bulk_create.
    """
    year = roster.insurance_year
    school = roster.school
    students_qs = Student.objects.filter(school=school)
    if student_ids is not None:
        students_qs = students_qs.filter(pk__in=list(student_ids))

    existing_qs = Enrollment.objects.filter(insurance_year=year, student__in=students_qs.values("pk"))
    other_schools = set(existing_qs.exclude(school=school).values_list("school_id", flat=True).distinct())
    rosters = _lock_rosters(school_ids={school.pk} | other_schools, insurance_year=year)

    # Plain rows, not model instances: the decision reads six attributes of tens of thousands of students.
    students = [SimpleNamespace(**row) for row in students_qs.values(
        "pk", "identity_number", "hukou_local", "hukou_rural", "medical_assistance", "public_funded_care", "status"
    )]
    existing = {
        row["student_id"]: SimpleNamespace(**row)
        for row in existing_qs.select_for_update().values("pk", "student_id", *TRACKED)
    }
    rules = routing.rules_for(year)
    exemptions = routing.exemptions_by_identity(
        students_qs.values("identity_number"), insurance_year=year
    )

    now = timezone.now()
    auto = auto_removal_reasons()
    to_create, to_update, touched = [], [], set()
    for student in students:
        current = existing.get(student.pk)
        old = _snapshot(current)
        new = _target(
            student=student, school=school, year=year, rules=rules,
            exemptions=exemptions.get(student.identity_number, ()), existing=current, auto=auto,
        )
        changes = _changes(old, new)
        if current is not None and not changes:
            continue
        if current is None:
            to_create.append((student.pk, new, changes))
        else:
            to_update.append((current.pk, student.pk, new, changes))
        touched.update({new["school_id"], old.get("school_id")} - {None})

    created = _insert_rows(
        [{**new, "student_id": student_id, "insurance_year_id": year.pk, "created_at": now, "updated_at": now}
         for student_id, new, _c in to_create]
    )
    _update_rows([{**new, "id": pk, "updated_at": now} for pk, _s, new, _c in to_update])

    audit_rows = [
        AuditEvent(**audit_fields(
            actor=actor, action="enrollment_create", obj=Enrollment(pk=pk), changes=changes,
            school_id=school.pk, student_id=student_id, roster_id=roster.pk,
        ), at=now)
        for pk, (student_id, _n, changes) in zip(created, to_create, strict=True)
    ] + [
        AuditEvent(**audit_fields(
            actor=actor, action="enrollment_update", obj=Enrollment(pk=pk), changes=changes,
            school_id=school.pk, student_id=student_id, roster_id=roster.pk,
        ), at=now)
        for pk, student_id, _n, changes in to_update
    ]
    AuditEvent.objects.bulk_create(audit_rows, batch_size=5000)
    for school_id in touched:
        roster_touch(roster=rosters[school_id])
    return len(to_create) + len(to_update)


# --- Set-based writes ----------------------------------------------------------
# The refresh of a 50,000-student school writes its rows with INSERT .. VALUES and
# UPDATE .. FROM (VALUES ..) in pages: model instances and bulk_update's CASE
# expressions cost more than the database work itself. Columns not decided here
# take the model's default, so a field added later does not break these writes.

PAGE = 5000


def _columns():
    return [f for f in Enrollment._meta.concrete_fields if not f.primary_key]


def _insert_rows(rows: list[dict]) -> list[int]:
    """Insert enrollments; return their ids in the order given."""
    if not rows:
        return []
    fields = _columns()
    defaults = {f.attname: f.get_default() for f in fields}
    table = connection.ops.quote_name(Enrollment._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), PAGE):
            page = rows[start:start + PAGE]
            values = [tuple(row.get(f.attname, defaults[f.attname]) for f in fields) for row in page]
            result = execute_values(
                cursor.cursor, f"INSERT INTO {table} ({names}) VALUES %s RETURNING id", values, page_size=PAGE, fetch=True
            )
            ids.extend(r[0] for r in result)
    return ids


def _update_rows(rows: list[dict]) -> None:
    """Write the decided columns of existing enrollments, matched by id."""
    if not rows:
        return
    names = [f for f in TRACKED] + ["updated_at"]
    fields = [Enrollment._meta.get_field(name) for name in names]
    table = connection.ops.quote_name(Enrollment._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = v.{connection.ops.quote_name(f.column)}" for f in fields)
    aliases = ", ".join(["id"] + [connection.ops.quote_name(f.column) for f in fields])
    template = "(" + ", ".join(["%s::bigint"] + [f"%s::{f.cast_db_type(connection)}" for f in fields]) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), PAGE):
            page = rows[start:start + PAGE]
            execute_values(
                cursor.cursor,
                f"UPDATE {table} AS e SET {assignments} FROM (VALUES %s) AS v({aliases}) WHERE e.id = v.id",
                [tuple([row["id"]] + [row[f.attname] for f in fields]) for row in page],
                template=template,
                page_size=PAGE,
            )


@transaction.atomic
def enrollment_remove(*, actor: Actor, enrollment: Enrollment, reason: str) -> Enrollment:
    """Take a student off the paying roster by hand (e.g. a graduate the feed missed)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写剔除原因。"), code="required")})
    roster = roster_lock_for_change(school=enrollment.school, insurance_year=enrollment.insurance_year)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    old = _snapshot(enrollment)
    enrollment.status = EnrollmentStatus.REMOVED
    enrollment.status_reason = reason[:200]
    enrollment.fee_due = ZERO
    if enrollment.payment_status not in BILLING_OWNED:
        enrollment.payment_status = PaymentStatus.UNPAID if enrollment.channel == Channel.SCHOOL else PaymentStatus.NOT_CHARGED
    enrollment.save()
    changes = _changes(old, _snapshot(enrollment))
    roster_touch(roster=roster)
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action="enrollment_remove", obj=enrollment, changes=changes,
        school_id=enrollment.school_id, student_id=enrollment.student_id, roster_id=roster.pk, note=reason,
    ))
    return enrollment

