"""Personal-data retention (PIPL): pseudonymise students the system no longer needs to identify.

The rule: a student who has graduated or left, whose last insurance year's
coverage ended more than ``settings.RETENTION_YEARS`` years ago (or, never
enrolled, whose status changed that long ago), keeps their rows (enrollments,
payments, coverage counts stay true for statistics and accounts) but loses
what identifies them:

- the name becomes "已清除";
- the identity number becomes a pseudonym ``000000`` + the student's row id on
  11 digits + a check character. It is stable (the same student always gets
  the same one), unique (row ids are), says nothing about the person, and
  still satisfies the database's format constraint (17 digits + check
  character). Region code ``000000`` and birth date ``00000000`` do not exist,
  so identity validation rejects it: it cannot be mistaken for, or collide
  with, a real number;
- the same fields on the exemption register of that person, the values
  recorded in the audit trail for that student, and the citizen-card photo
  are cleared as well.

Each pseudonymisation is recorded in the audit trail (source: job) without
the old values. These are the core's rows only: the retention job
(``bureau.retention``) passes the numbers this returns on to the apps that
keep copies of them.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from stdnum.cn import ric

from enrollment.models import AuditEvent, CitizenCard, Exemption, Student, StudentStatus
from enrollment.services.common import Actor, audit_fields

ERASED_NAME = "已清除"
PSEUDONYM_REGION = "000000"
BATCH_SIZE = 500
_PERSONAL_KEYS = ("name", "identity_number")


def pseudonym_identity_number(student_id: int) -> str:
    body = f"{PSEUDONYM_REGION}{student_id:011d}"
    return body + ric.calc_check_digit(body + "0")


def is_pseudonym(identity_number: str) -> bool:
    return identity_number.startswith(PSEUDONYM_REGION)


def retention_cutoff(*, today: datetime.date | None = None, years: int | None = None) -> datetime.date:
    """Coverage that ended before this date is old enough to pseudonymise."""
    today = today or timezone.localdate()
    years = settings.RETENTION_YEARS if years is None else years
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def eligible_students(*, today: datetime.date | None = None):
    cutoff = retention_cutoff(today=today)
    return (
        Student.objects.filter(status__in=[StudentStatus.GRADUATED, StudentStatus.LEFT])
        .exclude(identity_number__startswith=PSEUDONYM_REGION)
        .annotate(last_coverage_end=Max("enrollments__insurance_year__coverage_end"))
        .filter(
            Q(last_coverage_end__lt=cutoff)
            | Q(last_coverage_end__isnull=True, status_changed_on__lt=cutoff)
            | Q(last_coverage_end__isnull=True, status_changed_on__isnull=True, created_at__date__lt=cutoff)
        )
    )


@transaction.atomic
def students_pseudonymise(
    *, today: datetime.date | None = None, batch_size: int = BATCH_SIZE, actor: Actor | None = None
) -> dict[int, str]:
    """Pseudonymise up to ``batch_size`` eligible students; return their ids and former identity numbers.

    The caller's transaction, if any, holds the students' locks until it ends,
    so other apps' copies can be cleared in the same transaction.
    """
    actor = actor or Actor.job("retention")
    ids = list(eligible_students(today=today).order_by("pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return {}
    # Two runs at once (a second worker, a manual run during the scheduled one)
    # skip the rows the other holds instead of processing them twice.
    students = list(
        Student.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk__in=ids)
        .exclude(identity_number__startswith=PSEUDONYM_REGION)
    )
    if not students:
        return {}
    old_numbers = {s.pk: s.identity_number for s in students}
    now = timezone.now()
    for student in students:
        student.updated_at = now
        student.name = ERASED_NAME
        student.identity_number = pseudonym_identity_number(student.pk)
        student.class_name = ""
    Student.objects.bulk_update(students, ["name", "identity_number", "class_name", "updated_at"])

    for student_id, number in old_numbers.items():
        pseudonym = pseudonym_identity_number(student_id)
        Exemption.objects.filter(identity_number=number).update(identity_number=pseudonym, name=ERASED_NAME)

    _scrub_audit_trail(student_ids=list(old_numbers))
    _delete_card_photos(student_ids=list(old_numbers))

    AuditEvent.objects.bulk_create(
        AuditEvent(**audit_fields(
            actor=actor, action=AuditEvent.Action.PSEUDONYMISE, obj=student, school_id=student.school_id, student_id=student.pk,
            changes={"fields": ["name", "identity_number", "class_name"]},
            note=f"retention {settings.RETENTION_YEARS} years",
        ))
        for student in students
    )
    return old_numbers


def _scrub_audit_trail(*, student_ids: list[int]) -> None:
    events = AuditEvent.objects.filter(student_id__in=student_ids).only("pk", "changes", "student_id")
    changed = []
    for event in events:
        if _scrub(event.changes, event.student_id):
            changed.append(event)
    AuditEvent.objects.bulk_update(changed, ["changes"])


def _scrub(value, student_id: int) -> bool:
    """Replace the values under personal keys in a changes dict, in place; True when anything changed."""
    touched = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _PERSONAL_KEYS:
                replacement = ERASED_NAME if key == "name" else pseudonym_identity_number(student_id)
                value[key] = [replacement] * len(item) if isinstance(item, list) else replacement
                touched = True
            elif _scrub(item, student_id):
                touched = True
    elif isinstance(value, list):
        for item in value:
            touched = _scrub(item, student_id) or touched
    return touched


def _delete_card_photos(*, student_ids: list[int]) -> None:
    for card in CitizenCard.objects.filter(student_id__in=student_ids).exclude(photo=""):
        storage, name = card.photo.storage, card.photo.name
        card.photo = ""
        card.save(update_fields=["photo"])
        # The file goes only once the row no longer points to it, and only if
        # the transaction commits: a rollback must not leave a dangling row.
        transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))


@transaction.atomic
def pseudonymise_lapsed_exemptions(*, today: datetime.date | None = None) -> int:
    """Exemption-register rows of people never registered as students, lapsed over RETENTION_YEARS ago.

    Lists from civil affairs and the federations name people who may never
    enroll through a school; once their entry has lapsed that long, nobody
    needs to recognise them. Rows of registered students are handled with the
    student. The pseudonym is ``000000E`` + the row id (the register has no
    format constraint), so it can never match a student's number.
    """
    cutoff = retention_cutoff(today=today)
    rows = list(
        Exemption.objects.select_for_update(skip_locked=True)
        .filter(valid_to__lt=cutoff)
        .exclude(identity_number__startswith=PSEUDONYM_REGION)
        .exclude(identity_number__in=Student.objects.values("identity_number"))
        .only("pk", "identity_number", "name")
    )
    for row in rows:
        row.identity_number = f"{PSEUDONYM_REGION}E{row.pk:011d}"
        row.name = ERASED_NAME
    Exemption.objects.bulk_update(rows, ["identity_number", "name"], batch_size=1000)
    return len(rows)
