"""Enrollment of students in an insurance year: channel, exemption and fee, one student or thousands.

The same decision (``_target``) serves the one-student refresh and the
set-based refresh the Excel import uses, so a student ends up the same
whichever door the change came through. Every write takes the roster lock
first: the window and the roster's state are enforced here, not by callers.
"""

from collections.abc import Collection
from itertools import chain
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

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
    return {StudentStatus.GRADUATED: _("学生已毕业"), StudentStatus.LEFT: _("学生已离校"), StudentStatus.DECEASED: _("学生已死亡")}


# Leaving school or dying mid-year keeps a fee already charged: the student stays covered to the year's end
# (a refund, where the city's year grants one, goes through a charge correction), and is stopped from the next year.
KEPT_WHEN_LEAVING = {PaymentStatus.BILLED, PaymentStatus.PAID}
LEAVING = {StudentStatus.LEFT, StudentStatus.DECEASED}


def _snapshot(enrollment: Enrollment | None) -> dict:
    if enrollment is None:
        return {}
    return {field: getattr(enrollment, field) for field in TRACKED}


def _target(
    *, student: Student, school: School, year: InsuranceYear, rules, exemptions, existing: Enrollment | None, auto=None
) -> dict:
    """The values the enrollment should hold, decided from the student, the year's rules and the register."""
    channel, channel_reason = routing.route(student=student, school=school, rules=rules)
    if existing is not None and existing.channel == Channel.INSURED_ELSEWHERE:
        # Recorded with its proof (enrollment.services.elsewhere): only its own service undoes it.
        channel, channel_reason = existing.channel, existing.channel_reason
    auto = auto or auto_removal_reasons()
    kept = (
        existing is not None and student.status in LEAVING and existing.payment_status in KEPT_WHEN_LEAVING
        and existing.status == EnrollmentStatus.REGISTERED
    )

    if kept:
        status, status_reason = existing.status, existing.status_reason
    elif student.status in auto:
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
    if kept:
        fee_due = existing.fee_due

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


def _target_now(*, student: Student, school: School, year: InsuranceYear, existing: Enrollment | None) -> dict:
    """One student's routing and charge as the year's rules and the exemption register say now."""
    exemptions = routing.exemptions_by_identity([student.identity_number], insurance_year=year).get(student.identity_number, [])
    return _target(student=student, school=school, year=year, rules=routing.rules_for(year), exemptions=exemptions,
                   existing=existing)


def _apply(enrollment: Enrollment, values: dict) -> None:
    for field, value in values.items():
        setattr(enrollment, field, value)
    enrollment.save()


def _lock_rosters(*, school_ids, insurance_year: InsuranceYear, target_school_id: int) -> dict[int, Roster]:
    """Lock every roster a change touches, in school order so two writers cannot deadlock.

    Only the target school's roster gains students: the others (a student's former school) only lose them.
    """
    locked = {}
    for school in School.objects.filter(pk__in=set(school_ids)).select_related("office").order_by("pk"):
        locked[school.pk] = roster_lock_for_change(
            school=school, insurance_year=insurance_year, adding=school.pk == target_school_id
        )
    return locked


@transaction.atomic
def enrollment_refresh(*, actor: Actor, student: Student, insurance_year: InsuranceYear) -> Enrollment:
    """Create or update the one enrollment of ``student`` for ``insurance_year``."""
    school = student.school
    existing = Enrollment.objects.filter(student=student, insurance_year=insurance_year).first()
    rosters = _lock_rosters(
        school_ids={school.pk} | ({existing.school_id} if existing else set()), insurance_year=insurance_year,
        target_school_id=school.pk,
    )
    # Read again under the roster lock: a concurrent refresh of the same student may have created it.
    existing = Enrollment.objects.select_for_update().filter(student=student, insurance_year=insurance_year).first()
    if existing is not None and existing.school_id not in rosters:
        raise ValidationError(_("该学生的参保登记刚被其他操作修改，请重试。"), code="conflict")
    # The student's status as it is under the lock: the nightly graduate run, which holds the
    # same lock, may have marked the student graduated while this caller waited for it.
    student.refresh_from_db(fields=["status", "status_changed_on"])

    old = _snapshot(existing)
    new = _target_now(student=student, school=school, year=insurance_year, existing=existing)
    changes = _changes(old, new)
    if existing is not None and not changes:
        return existing

    enrollment = existing or Enrollment(student=student, insurance_year=insurance_year)
    _apply(enrollment, new)

    for school_id in {new["school_id"], old.get("school_id")} - {None}:
        roster_touch(roster=rosters[school_id])
    AuditEvent.objects.create(**audit_fields(
        actor=actor,
        action=AuditEvent.Action.ENROLLMENT_CREATE if existing is None else AuditEvent.Action.ENROLLMENT_UPDATE,
        obj=enrollment,
        changes=changes,
        school_id=school.pk,
        student_id=student.pk,
        roster_id=rosters[school.pk].pk,
    ))
    return enrollment


@transaction.atomic
def enrollment_restore(*, actor: Actor, enrollment: Enrollment) -> Enrollment:
    """Undo a removal by hand while the roster is open: the student is routed and charged as if never removed."""
    roster = roster_lock_for_change(school=enrollment.school, insurance_year=enrollment.insurance_year)
    enrollment = Enrollment.objects.select_for_update().select_related("student", "school", "insurance_year").get(pk=enrollment.pk)
    if enrollment.status != EnrollmentStatus.REMOVED or enrollment.status_reason in auto_removal_reasons().values():
        raise ValidationError(_("只能恢复在名单中手工剔除的学生。"), code="not_removed_by_hand")
    student, year = enrollment.student, enrollment.insurance_year
    old = _snapshot(enrollment)
    enrollment.status, enrollment.status_reason = EnrollmentStatus.REGISTERED, ""
    _apply(enrollment, _target_now(student=student, school=enrollment.school, year=year, existing=enrollment))
    roster_touch(roster=roster)
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditEvent.Action.ENROLLMENT_RESTORE, obj=enrollment, changes=_changes(old, _snapshot(enrollment)),
        school_id=enrollment.school_id, student_id=student.pk, roster_id=roster.pk,
    ))
    return enrollment


@transaction.atomic
def enrollments_refresh_bulk(
    *, actor: Actor, roster: Roster, student_ids: list[int] | None = None, new_students: Collection | None = None,
) -> int:
    """Refresh the enrollments of a school's students (all, or ``student_ids``) in a few statements.

    ``new_students``: students of the school the calling transaction has just created, as plain
    rows (pk, identity_number, hukou_local, hukou_rural, medical_assistance, public_funded_care,
    status, document_type), any collection (it is iterated once, while the COPY streams). No one
    else can see them yet and they have no enrollment, so they are not read back (an import of
    50,000 new students would read them all again).

    Returns how many enrollments were created or changed. One audit row per
    changed enrollment, written by COPY.
    """
    year = roster.insurance_year
    school = roster.school
    students_qs = Student.objects.filter(school=school)
    if new_students and not student_ids:
        students, existing, rosters = [], {}, _lock_rosters(school_ids={school.pk}, insurance_year=year, target_school_id=school.pk)
    else:
        students, existing, rosters = _load_pg(school=school, year=year, student_ids=student_ids)
    rules = routing.rules_for(year)
    # The register is read for the whole school, not the id list: a few rows
    # too many cost nothing, an IN list of ten thousand ids costs a lot to build.
    exemptions = routing.exemptions_by_identity(students_qs.values("identity_number"), insurance_year=year)

    now = timezone.now()
    auto = auto_removal_reasons()
    to_update, touched = [], set()
    fresh = []  # students without an enrollment of the year: decided while their COPY streams
    for student in students:
        current = existing.get(student.pk)
        if current is None:
            fresh.append(student)
            continue
        new = _target(
            student=student, school=school, year=year, rules=rules,
            exemptions=exemptions.get(student.identity_number, ()), existing=current, auto=auto,
        )
        old = _snapshot(current)
        changes = _changes(old, new)
        if not changes:
            continue
        to_update.append((current.pk, student.pk, new, changes))
        touched.update({new["school_id"], old.get("school_id")} - {None})
    creating = len(fresh) + len(new_students or ())
    if creating:
        touched.add(school.pk)  # a new enrollment is always at the student's school

    def to_create():
        # A new enrollment's changes follow from its values alone: _write_pg makes them once per distinct decision.
        for student in chain(fresh, new_students or ()):
            yield student.pk, _target(
                student=student, school=school, year=year, rules=rules,
                exemptions=exemptions.get(student.identity_number, ()), existing=None, auto=auto,
            )

    _write_pg(actor=actor, roster=roster, year=year, to_create=to_create(), create_count=creating, to_update=to_update, now=now)
    for school_id in touched:
        roster_touch(roster=rosters[school_id])
    return creating + len(to_update)


def _load_pg(*, school: School, year: InsuranceYear, student_ids) -> tuple[list, dict, dict[int, Roster]]:
    """Lock the rosters involved; return the students, their enrollments of ``year`` (locked) and the rosters.

    Plain SQL with the ids as one array parameter (``= ANY(%s::bigint[])``): tens of
    thousands of ``IN`` placeholders cost more to build than the rows cost to read,
    and a sub-select on rows written earlier in the same transaction (no statistics
    yet) can get a quadratic plan. The cast matters: an int[] literal against a
    bigint column is searched element by element, a bigint[] one through a hash.
    """
    from enrollment.imports.pgcopy import int_array

    student_table = Student._meta.db_table
    enrollment_table = Enrollment._meta.db_table
    tracked = [Enrollment._meta.get_field(name).column for name in TRACKED]
    with connection.cursor() as cursor:
        if student_ids is None:
            cursor.execute(f'SELECT id FROM "{student_table}" WHERE school_id = %s', [school.pk])
        else:
            cursor.execute(f'SELECT id FROM "{student_table}" WHERE school_id = %s AND id = ANY(%s::bigint[])', [school.pk, int_array(student_ids)])
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            f'SELECT DISTINCT school_id FROM "{enrollment_table}" WHERE insurance_year_id = %s AND student_id = ANY(%s::bigint[]) AND school_id <> %s',
            [year.pk, int_array(ids), school.pk],
        )
        other_schools = {r[0] for r in cursor.fetchall()}
        rosters = _lock_rosters(school_ids={school.pk} | other_schools, insurance_year=year, target_school_id=school.pk)
        # Read under the roster locks: a student moved to another school meanwhile drops out, as with the ORM path.
        cursor.execute(
            f'SELECT id, identity_number, hukou_local, hukou_rural, medical_assistance, public_funded_care, status, document_type '
            f'FROM "{student_table}" WHERE school_id = %s AND id = ANY(%s::bigint[])',
            [school.pk, int_array(ids)],
        )
        students = [
            SimpleNamespace(pk=r[0], identity_number=r[1], hukou_local=r[2], hukou_rural=r[3], medical_assistance=r[4],
                            public_funded_care=r[5], status=r[6], document_type=r[7])
            for r in cursor.fetchall()
        ]
        cursor.execute(
            f'SELECT id, student_id, {", ".join(tracked)} FROM "{enrollment_table}" '
            f'WHERE insurance_year_id = %s AND student_id = ANY(%s::bigint[]) FOR UPDATE',
            [year.pk, int_array(st.pk for st in students)],
        )
        existing = {}
        for r in cursor.fetchall():
            row = SimpleNamespace(pk=r[0], student_id=r[1], **dict(zip(TRACKED, r[2:], strict=True)))
            existing[row.student_id] = row
    return students, existing, rosters


def _write_pg(*, actor: Actor, roster: Roster, year: InsuranceYear, to_create, create_count: int, to_update, now) -> None:
    """New enrollments and their audit rows by COPY; changed ones by one UPDATE .. FROM a COPY-filled scratch table.

    Ids of the new rows are taken from the table's sequence first, so the audit
    rows can name them without reading the inserted rows back. Columns not
    decided here take the model's default, so a field added later does not
    break these writes. ``to_create``: ``create_count`` pairs of (student id,
    decided values), made as the COPY reads them.
    """
    from enrollment.imports.pgcopy import (
        copy_audit,
        copy_lines,
        copy_value,
        json_text,
        next_ids,
        temp_table_like,
    )

    if not create_count and not to_update:
        return
    table = Enrollment._meta.db_table
    audit = []
    with connection.cursor() as cursor:
        if create_count:
            ids = next_ids(cursor, table, create_count)
            fields = _columns()
            decided = set(TRACKED) | {"student_id"}
            fixed = {f.attname: f.get_default() for f in fields if f.attname not in decided}
            fixed.update({"insurance_year_id": year.pk, "created_at": now, "updated_at": now})
            # Fixed columns formatted once; per row only the decided ones.
            names = [f.attname for f in fields if f.attname not in decided]
            columns = ["id", *(Enrollment._meta.get_field(n).column for n in ["student_id", *TRACKED, *names])]
            suffix = "\t".join(copy_value(fixed[n]) for n in names)
            # A school's new enrollments share a handful of decisions (paying, exempt, other channel):
            # each distinct one is formatted once, as COPY text and as the audit row's JSON.
            formatted: dict[tuple, tuple[str, str]] = {}
            created_action = AuditEvent.Action.ENROLLMENT_CREATE

            def lines():
                # Made while the COPY streams (the server stores a chunk while the next is formatted);
                # each line's audit row is kept for the audit COPY below.
                for pk, (student_id, new) in zip(ids, to_create, strict=True):
                    # A new enrollment's changes follow from its values alone (nothing before).
                    key = tuple(new.items())
                    text = formatted.get(key)
                    if text is None:
                        text = formatted[key] = ("\t".join([copy_value(new[k]) for k in TRACKED]) + "\t" + suffix,
                                                 json_text(_changes({}, new)))
                    audit.append((created_action, pk, student_id, text[1]))
                    yield f"{pk}\t{student_id}\t{text[0]}"

            copy_lines(cursor, table, columns, lines())
        if to_update:
            columns = [Enrollment._meta.get_field(name).column for name in TRACKED]
            temp_table_like(cursor, "enrollment_refresh_changes", table, ["id", *columns])
            copy_lines(cursor, "enrollment_refresh_changes", ["id", *columns], (
                f"{pk}\t{chr(9).join([copy_value(new[k]) for k in TRACKED])}" for pk, _s, new, _c in to_update
            ))
            assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns)
            cursor.execute(
                f'UPDATE "{table}" AS e SET {assignments}, "updated_at" = %s FROM enrollment_refresh_changes AS v WHERE e.id = v.id',
                [now],
            )
            audit += [(AuditEvent.Action.ENROLLMENT_UPDATE, pk, student_id, changes) for pk, student_id, _n, changes in to_update]
        copy_audit(cursor, at=now, rows=audit, fields=audit_fields(
            actor=actor, action="", obj=Enrollment(pk=0), school_id=roster.school_id, roster_id=roster.pk,
        ))


# The refresh of a 50,000-student school writes by COPY (see _write_pg):
# model instances and bulk_create cost more than the database work itself.


def _columns():
    return [f for f in Enrollment._meta.concrete_fields if not f.primary_key]


@transaction.atomic
def enrollment_remove(*, actor: Actor, enrollment: Enrollment, reason: str) -> Enrollment:
    """Take a student off the paying roster by hand (e.g. a graduate the feed missed)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写剔除原因。"), code="required")})
    roster = roster_lock_for_change(school=enrollment.school, insurance_year=enrollment.insurance_year, adding=False)
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
        actor=actor, action=AuditEvent.Action.ENROLLMENT_REMOVE, obj=enrollment, changes=changes,
        school_id=enrollment.school_id, student_id=enrollment.student_id, roster_id=roster.pk, note=reason,
    ))
    return enrollment



# --- Late students: after the roster was confirmed or billed ------------------------------------


def _charged_message() -> str:
    return _("该学生本年度已在确认的缴费名单中（已确认或已扣费），不会重复缴费，无需补充登记。")


def roster_lock_for_late(*, school: School, insurance_year: InsuranceYear) -> Roster:
    """Lock a roster for a late registration: the window rule as for any change, but any roster state.

    After the window the year's setting decides (``check_window_open``): a locked year
    (Suzhou) refuses with what to do instead, an unlocked one (Guangzhou) accepts.
    """
    from enrollment.services.common import check_school_in_scope, check_window_open, roster_get_or_create

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("roster_lock_for_late must run inside a transaction")
    # A late registration puts a student on the roster: the year must apply to the school (urban districts).
    check_school_in_scope(school=school, insurance_year=insurance_year)
    check_window_open(insurance_year=insurance_year)
    roster_get_or_create(school=school, insurance_year=insurance_year)
    return Roster.objects.select_for_update().get(school=school, insurance_year=insurance_year)


def enrollment_is_late(*, enrollment: Enrollment | None, roster: Roster) -> bool:
    """Whether a change to this enrollment goes to the supplementary confirmation of a confirmed roster.

    True for a student with no enrollment yet, or one not on any confirmation in force and not charged.
    """
    from enrollment.models import ConfirmationLine, RosterState

    if roster.state == RosterState.OPEN:
        return False
    if enrollment is None:
        return True
    return enrollment.payment_status not in BILLING_OWNED and not ConfirmationLine.objects.filter(
        enrollment=enrollment, live=True
    ).exists()


@transaction.atomic
def enrollment_add_late(*, actor: Actor, student: Student, insurance_year: InsuranceYear) -> Enrollment:
    """Add a student not yet charged this year to their school's roster, whatever its state.

    On an open roster this is the ordinary refresh. On a confirmed, billed or settled
    roster the student is registered without touching what was confirmed: they wait
    for the school's supplementary confirmation (``roster_confirm_supplementary``),
    which billing charges once as a supplementary charge. A student already on a
    confirmation in force, or charged, is refused (never a second charge); the
    database backs this with ``confirmation_line_one_live_per_enrollment``.
    The service the transfers work calls for "an unpaid student joins a confirmed roster".
    """
    from enrollment.models import RosterState

    school = student.school
    roster = roster_lock_for_late(school=school, insurance_year=insurance_year)
    if roster.state == RosterState.OPEN:
        return enrollment_refresh(actor=actor, student=student, insurance_year=insurance_year)
    existing = Enrollment.objects.select_for_update().filter(student=student, insurance_year=insurance_year).first()
    rosters = {school.pk: roster}
    if existing is not None and existing.school_id != school.pk:
        # An unpaid student coming from another school: that school's roster is locked too (its confirmed
        # lines are not touched: the student is on none of them, checked below).
        other = School.objects.get(pk=existing.school_id)
        rosters[other.pk] = roster_lock_for_late(school=other, insurance_year=insurance_year)
        existing = Enrollment.objects.select_for_update().get(pk=existing.pk)
    if not enrollment_is_late(enrollment=existing, roster=roster):
        raise ValidationError(_charged_message(), code="already_charged")
    student.refresh_from_db(fields=["status", "status_changed_on"])
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
    for locked in rosters.values():
        roster_touch(roster=locked)
    AuditEvent.objects.create(**audit_fields(
        actor=actor, action=AuditEvent.Action.ENROLLMENT_ADD_LATE, obj=enrollment, changes=changes,
        school_id=school.pk, student_id=student.pk, roster_id=roster.pk,
        note=_("名单确认后登记，待补充确认"),
    ))
    return enrollment
