"""The student register (R5): one student by hand, or thousands from a spreadsheet.

Every path checks the identity number, its agreement with birth date and sex,
refuses a student registered at another school (never moves them silently),
takes the roster lock (which enforces the declaration window) and refreshes
the student's enrollment for the school's current insurance year.
"""

import datetime
import gc
import logging
import operator
import os
import time
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import exports, identity, rules
from enrollment.imports.errors import FileRejected
from enrollment.imports.reader import read_table
from enrollment.imports.sniff import sniff
from enrollment.imports.validate import ParsedFile, parse_start
from enrollment.models import (
    AuditAction,
    AuditEvent,
    Enrollment,
    InsuranceYear,
    Job,
    PersonalDataAccess,
    Role,
    Roster,
    RosterState,
    School,
    Student,
    StudentStatus,
)
from enrollment.querysets import membership_of
from enrollment.services.common import (
    Actor,
    audit_fields,
    audit_record,
    check_school_in_scope,
    check_window_open,
    current_insurance_year,
    diff,
    roster_lock_for_change,
)
from enrollment.services.jobs import JobLost, JobOutcome, job_create, job_execute, job_fail, job_progress

logger = logging.getLogger(__name__)

MODE_STRICT = "strict"  # import nothing if any row is wrong
MODE_PARTIAL = "partial"  # import the valid rows, report the others
MODES = (MODE_STRICT, MODE_PARTIAL)
EDITABLE = ["name", "sex", "birth_date", "grade", "class_name", "hukou_local", "hukou_rural", "medical_assistance", "public_funded_care", "has_citizen_card"]
REFRESH_CHUNK = 25000


def school_year(school: School) -> InsuranceYear:
    year = current_insurance_year(city_id=school.office.city_id)
    if year is None:
        raise ValidationError(_("本市尚未设置参保年度，暂不能登记学生；请联系经办机构。"), code="no_insurance_year")
    # Suzhou's year covers 市区 only: a school of a county-level city enrolls under its own scheme.
    check_school_in_scope(school=school, insurance_year=year)
    return year


def _other_school_message() -> str:
    return _("该学生已在其他学校的名册中登记，不能重复登记，也不会被自动转入本校。如学生已转学，请联系原学校或经办机构办理。")


def with_current_values(*, student: Student, data: dict) -> dict:
    """An update may send only the fields it changes: the student's other values are checked with them.

    A new number without a document type is recognised afresh (a passport replaced by an identity card).
    """
    kept = ("identity_number", *EDITABLE) if "identity_number" in data else ("document_type", "identity_number", *EDITABLE)
    return {**{f: getattr(student, f) for f in kept}, **data}


def _clean(*, school: School, data: dict, student: Student | None = None) -> dict:
    """Validate one student's fields with the per-field rules every path shares; raise ValidationError keyed by field."""
    if student is not None:
        data = with_current_values(student=student, data=data)
    values, found = rules.check_student(data, final_grade=school.final_grade)
    errors: dict[str, list] = {field: [message] for field, message in found.items()}
    values = {k: v for k, v in values.items() if k not in errors}
    number = values.get("identity_number", "")
    if number:
        clash = Student.objects.filter(identity_number=number).exclude(pk=student.pk if student else None).first()
        if clash is not None and student is None and _left_in_other_city(clash, school):
            clash = None  # registered again here: student_create takes the record over (a move between cities)
        if clash is not None:
            errors["identity_number"] = [
                _("该身份证号码的学生已在本校名册中（%(name)s），请直接修改该学生。") % {"name": clash.name}
                if clash.school_id == school.pk
                else _other_school_message()
            ]
    if errors:
        raise ValidationError({key: [ValidationError(m, code="invalid") for m in msgs] for key, msgs in errors.items()})
    return values


def _left_in_other_city(student: Student, school: School) -> bool:
    """A student recorded as left at a school of another city: a new registration here is how they move."""
    return student.status == StudentStatus.LEFT and student.school.office.city_id != school.office.city_id


def _reregister(*, actor: Actor, school: School, values: dict, roster) -> Student | None:
    """Take over the record of a student who left a school of another city; their enrollments there stay there."""
    student = Student.objects.select_for_update().select_related("school__office").filter(
        identity_number=values.get("identity_number", "")).first()
    if student is None or not _left_in_other_city(student, school):
        return None
    old_school = student.school
    old = {key: getattr(student, key) for key in values if key != "identity_number"}
    for key, value in values.items():
        setattr(student, key, value)
    student.school = school
    student.status, student.status_changed_on = StudentStatus.IN_SCHOOL, timezone.localdate()
    student.save()
    changes = diff(old, {k: v for k, v in values.items() if k != "identity_number"})
    for school_id in (old_school.pk, school.pk):
        audit_record(
            actor=actor, action=AuditAction.STUDENT_REREGISTERED, obj=student, school_id=school_id, student_id=student.pk,
            roster_id=roster.pk if school_id == school.pk else None,
            changes={**changes, "school": [old_school.name, school.name], "status": [StudentStatus.LEFT, StudentStatus.IN_SCHOOL]},
        )
    return student


def _refresh(*, actor: Actor, student: Student, year: InsuranceYear, late: bool = False) -> None:
    from enrollment.services.enrollments import enrollment_add_late, enrollment_refresh

    if late:
        enrollment_add_late(actor=actor, student=student, insurance_year=year)
    else:
        enrollment_refresh(actor=actor, student=student, insurance_year=year)


def _lock(*, school: School, year: InsuranceYear, student: Student | None = None) -> tuple[Roster, bool]:
    """Lock the roster for a change to one student; ``late`` when it goes to the supplementary confirmation.

    A confirmed or billed roster still takes a new student (a late freshman, a transfer in) and
    changes to a student who is on no confirmation yet; anyone already confirmed is refused as before.
    """
    from enrollment.services.enrollments import enrollment_is_late, roster_lock_for_late

    roster = roster_lock_for_late(school=school, insurance_year=year)
    if roster.state == RosterState.OPEN:
        return roster, False
    existing = None if student is None else Enrollment.objects.filter(student=student, insurance_year=year).first()
    if enrollment_is_late(enrollment=existing, roster=roster):
        return roster, True
    return roster_lock_for_change(school=school, insurance_year=year), False  # raises RosterLocked with its message


@transaction.atomic
def student_create(*, actor: Actor, school: School, data: dict) -> Student:
    year = school_year(school)
    values = _clean(school=school, data=data)
    roster, late = _lock(school=school, year=year)
    moved = _reregister(actor=actor, school=school, values=values, roster=roster)
    if moved is not None:
        _refresh(actor=actor, student=moved, year=year, late=late)
        return moved
    try:
        with transaction.atomic():
            student = Student.objects.create(school=school, **values)
    except IntegrityError as exc:  # registered by someone else since the check above
        raise ValidationError({"identity_number": [ValidationError(_other_school_message(), code="taken")]}) from exc
    audit_record(
        actor=actor, action=AuditEvent.Action.STUDENT_CREATE, obj=student, school_id=school.pk, student_id=student.pk, roster_id=roster.pk,
        changes={k: [None, v] for k, v in values.items() if k != "identity_number"},
    )
    _refresh(actor=actor, student=student, year=year, late=late)
    return student


@transaction.atomic
def student_update(*, actor: Actor, student: Student, data: dict) -> Student:
    school = student.school
    year = school_year(school)
    values = _clean(school=school, data=data, student=student)
    roster, late = _lock(school=school, year=year, student=student)
    student = Student.objects.select_for_update().get(pk=student.pk)
    old = {key: getattr(student, key) for key in values}
    changes = diff(old, values)
    if not changes:
        return student
    for key, value in values.items():
        setattr(student, key, value)
    student.save()
    if "identity_number" in changes:  # never put a full number in the audit trail
        changes["identity_number"] = [identity.mask(old["identity_number"]), identity.mask(values["identity_number"])]
    audit_record(actor=actor, action=AuditEvent.Action.STUDENT_UPDATE, obj=student, changes=changes, school_id=school.pk, student_id=student.pk, roster_id=roster.pk)
    _refresh(actor=actor, student=student, year=year, late=late)
    return student


@transaction.atomic
def student_set_status(*, actor: Actor, student: Student, status: str, on: datetime.date | None = None) -> Student:
    if status not in StudentStatus.values:
        raise ValidationError({"status": [ValidationError(_("在校状态无效。"), code="invalid")]})
    if status in (StudentStatus.LEFT, StudentStatus.DECEASED):
        # Mid-year, after confirmation too: the city's rule on a paid fee decides (enrollment.services.leaving).
        from enrollment.services.leaving import student_leave

        return student_leave(actor=actor, student=student, status=status, on=on or timezone.localdate()).student
    on = on or timezone.localdate()
    if on > timezone.localdate():
        raise ValidationError({"on": [ValidationError(_("日期不能晚于今天。"), code="future")]})
    school = student.school
    year = school_year(school)
    roster, late = _lock(school=school, year=year, student=student)
    student = Student.objects.select_for_update().get(pk=student.pk)
    if student.status == status:
        return student
    old = student.status
    student.status = status
    student.status_changed_on = on
    student.save(update_fields=["status", "status_changed_on", "updated_at"])
    audit_record(
        actor=actor, action=AuditEvent.Action.STUDENT_STATUS, obj=student, changes={"status": [old, status], "status_changed_on": [None, on]},
        school_id=school.pk, student_id=student.pk, roster_id=roster.pk,
    )
    _refresh(actor=actor, student=student, year=year, late=late)
    return student


# --- Import -----------------------------------------------------------------


def student_import_start(*, actor: Actor, school: School, upload, name: str = "", mode: str = MODE_STRICT, run_now: bool = False) -> Job:
    """Store the uploaded file as a Job and run the import in the background (or now, for the command line).

    ``upload`` is an uploaded file or an open binary file.
    """
    if mode not in MODES:
        raise ValidationError({"mode": [ValidationError(_("导入方式无效。"), code="invalid")]})
    name = os.path.basename(name or getattr(upload, "name", "") or "upload")
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, os.SEEK_END)
        size = upload.tell()
        upload.seek(0)
    if size > settings.UPLOAD_MAX_BYTES:
        raise FileRejected(
            _("文件“%(name)s”大小为%(size).1fMB，超过上限%(limit).1fMB；请分成多个文件导入。")
            % {"name": name, "size": size / 1048576, "limit": settings.UPLOAD_MAX_BYTES / 1048576},
            code="too_large",
        )
    year = school_year(school)
    check_window_open(insurance_year=year)
    user = actor.user if getattr(actor.user, "is_authenticated", False) else None
    from enrollment.tasks.students import import_students

    with transaction.atomic():
        # Stored under a neutral name: the original one may carry a class or a person's name.
        stored = Job(kind=Job.Kind.STUDENT_IMPORT)
        stored.input_file.save(f"students{os.path.splitext(name)[1].lower()[:6]}", File(upload), save=False)
        create = job_create if not run_now else _job_create_unsent
        job = create(
            kind=Job.Kind.STUDENT_IMPORT, task=import_students, school=school, insurance_year=year, created_by=user,
            params={"mode": mode, "source": actor.source, "label": actor.label}, input_name=name[:255],
            input_file=stored.input_file.name, expires_at=timezone.now() + datetime.timedelta(days=30),
        )
    if run_now:
        student_import_run(job_id=job.pk)
        job.refresh_from_db()
    return job


def _job_create_unsent(*, task, created_by=None, **fields) -> Job:
    """The command line runs the import itself: a Job row with no message to send.

    Marked as sent, so the sweeper leaves it to this process (it would send a
    pending job without a message to a worker after its limit).
    """
    return Job.objects.create(task_name=task.name, created_by=created_by, enqueued_at=timezone.now(), **fields)


def _progress(job: Job):
    def report(done: int, total: int) -> None:
        job_progress(job=job, progress=done, total=max(total, done))

    return report


def student_import_run(*, job_id: int) -> Job | None:
    """Run an import Job now. Safe to call twice: only the call that claims it (pending to running) works."""
    return job_execute(job_id=job_id, body=student_import_body)


def student_import_body(job: Job) -> JobOutcome:
    """The body of a STUDENT_IMPORT job: a refused file ends it failed with the reasons, the report kept."""
    actor = Actor(user=job.created_by, source=AuditEvent.Source.IMPORT, label=job.params.get("label", ""))
    job.school = School.objects.select_related("office").get(pk=job.school_id)
    # The import allocates hundreds of thousands of small containers that never form
    # cycles; left on, the cyclic collector rescans all of them again and again and
    # costs a large share of the run. Collected once at the end instead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result, error = _run(job, actor)
    except ValidationError as exc:
        result, error = {"errors": [], "created": 0, "updated": 0, "unchanged": 0}, " ".join(exc.messages)
    except JobLost:
        raise
    except Exception:
        logger.exception("student import job %s crashed", job.pk)
        result, error = {"errors": []}, _("导入时发生系统错误，未导入任何数据；请稍后重试或联系经办机构。")
    finally:
        if collecting:
            gc.enable()
    extra = {"output_file": job.output_file.name or ""}
    if error:
        job_fail(job=job, message=error, result=result, progress=job.progress, total=job.total, **extra)
        return None
    return JobOutcome(result=result, progress=job.progress, total=job.total, extra=extra)


def _run(job: Job, actor: Actor) -> tuple[dict, str]:
    school, year = job.school, job.insurance_year
    mode = job.params.get("mode", MODE_STRICT)
    path = job.input_file.path
    check_window_open(insurance_year=year)
    started = time.perf_counter()
    kind = sniff(path, job.input_name)
    table = read_table(path, kind, job.input_name)
    timings = {"read": round(time.perf_counter() - started, 3)}

    counts = {"created": 0, "updated": 0, "unchanged": 0, "enrollments_changed": 0}
    error = ""
    try:
        with transaction.atomic():
            parsed, counts = _write(table=table, school=school, year=year, actor=actor, job=job, mode=mode, timings=timings)
            started = time.perf_counter()
        # The commit checks the deferred foreign keys of every row written.
        timings["commit"] = round(time.perf_counter() - started, 3)
    except _NothingWritten as refused:
        parsed = refused.parsed
        error = _("共有%(n)d行有错误。按“有错误则全部不导入”方式，本次未导入任何学生；请下载错误报告，改正后重新导入整个文件。") % {
            "n": len({e.row for e in parsed.errors})
        }
    job.total = job.progress = parsed.total
    rejected = len({e.row for e in parsed.errors})
    started = time.perf_counter()
    if parsed.errors:
        report = exports.error_report(header=parsed.header, rows=parsed.raw_rows, errors=sorted(parsed.errors, key=lambda e: e.row))
        job.output_file.save(f"import-errors-{job.pk}.xlsx", ContentFile(report), save=False)
    timings["report"] = round(time.perf_counter() - started, 3)
    result = {
        **counts, "mode": mode, "total": parsed.total, "rejected_rows": rejected, "timings": timings,
        "errors": [e.as_dict() for e in sorted(parsed.errors, key=lambda e: e.row)[:500]],
    }
    return result, error


class _StudentRows:
    """New students by COPY, changed ones by one upsert: the import's writes to the student table.

    The ORM's per-field preparation of bulk_create costs more than the statements on
    large imports; COPY sends the rows in one stream.
    """

    def __init__(self, *, school: School, fields: list[str], now):
        from enrollment.imports.pgcopy import COPY_ESCAPES, copy_value

        columns = [f for f in Student._meta.concrete_fields if not f.primary_key]
        base = {f.attname: (f.get_default() if f.has_default() else None) for f in columns}
        base.update({"school_id": school.pk, "created_at": now, "updated_at": now})
        names = [f.attname for f in columns]
        self.fields = fields
        self.table = Student._meta.db_table
        self.columns = [f.column for f in columns]
        # Columns the file does not carry are the same for every row: formatted once.
        others = [n for n in fields if n != "name"]
        self.named = len(others) != len(fields)
        fixed = [n for n in names if n not in {"identity_number", "name", *others}]
        self.copy_columns = [Student._meta.get_field(n).column for n in ["identity_number", *(["name"] if self.named else []), *others, *fixed]]
        # Apart from the number and the name, a row's values repeat (sex, grade, class, birth date, flags):
        # each distinct combination is formatted once, with the fixed columns after it. Names are mostly
        # distinct: escaped directly. A validated number is letters and digits, nothing to escape.
        self.pick = (lambda row: (row[others[0]],)) if len(others) == 1 else operator.itemgetter(*others) if others else (lambda row: ())
        self.suffix = [copy_value(base[n]) for n in fixed]
        self.formatted: dict[tuple, str] = {}
        self.copy_value, self.escapes = copy_value, COPY_ESCAPES

    def _rest(self, values: tuple) -> str:
        # "\t" before each field: the line's number (and name) come first.
        text = "".join("\t" + part for part in [*(self.copy_value(v) for v in values), *self.suffix])
        self.formatted[values] = text
        return text

    def lines(self, rows, *, ids=None):
        """COPY lines of (number, values) ``rows``; with ``ids``, each line starts with the next id (rows beyond them are not taken)."""
        pick, formatted, named, copy_value, escapes = self.pick, self.formatted, self.named, self.copy_value, self.escapes
        # zip takes the next row only when an id is left for it.
        for pk, (number, row) in zip(ids, rows) if ids is not None else ((None, r) for r in rows):  # noqa: B905
            key = pick(row)
            rest = formatted.get(key) or self._rest(key)
            start = number if pk is None else f"{pk}\t{number}"
            if named:
                name = row["name"]
                yield f"{start}\t{name.translate(escapes) if name.__class__ is str else copy_value(name)}{rest}"
            else:
                yield f"{start}{rest}"

    def copy_new(self, rows, *, reserve: int) -> list[int] | None:
        """COPY the new students ``rows`` yields, as it yields them; their ids in order, or None on a taken number.

        Ids are taken from the sequence before the COPY (``reserve`` of them, the
        least the file can need), so the enrollments can name the students without
        reading them back; rows beyond them go in a further round. None: a number
        was registered (at another school) and nothing of the COPY was kept.
        """
        from enrollment.imports.pgcopy import copy_lines, next_ids

        rows = iter(rows)
        ids: list[int] = []
        want = max(reserve, 1)
        with connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    while True:
                        batch = next_ids(cursor, self.table, want)
                        sent = copy_lines(cursor, self.table, ["id", *self.copy_columns], self.lines(rows, ids=batch))
                        ids += batch[:sent]
                        if sent < len(batch):
                            return ids
                        want = max(reserve, 1000)
            except IntegrityError:
                return None

    def update_changed(self, rows: list[tuple[str, dict]]) -> list[int]:
        """Write ``rows`` over the registered students of the school; their ids (fewer: one moved away)."""
        from enrollment.imports.pgcopy import copy_lines, temp_table_like

        if not rows:
            return []
        quoted = ", ".join(f'"{c}"' for c in self.columns)
        assignments = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in self.fields + ["updated_at"])
        with connection.cursor() as cursor:
            # COPY into a scratch table, then one INSERT .. SELECT: the rows cross the wire
            # in one stream and the upsert is a single statement.
            temp_table_like(cursor, "student_import_rows", self.table, self.columns)
            copy_lines(cursor, "student_import_rows", self.copy_columns, self.lines(rows))
            # Only the file's own school may be updated: a row of another school (registered
            # concurrently) is left alone and shows up as a missing id, which rolls back.
            cursor.execute(
                f'INSERT INTO "{self.table}" ({quoted}) SELECT {quoted} FROM student_import_rows '
                f'ON CONFLICT ("identity_number") DO UPDATE SET {assignments} '
                f'WHERE "{self.table}"."school_id" = EXCLUDED."school_id" RETURNING "id"'
            )
            return [r[0] for r in cursor.fetchall()]


_REFRESH_FIELDS = ("hukou_local", "hukou_rural", "medical_assistance", "public_funded_care", "status", "document_type")


class _Written:
    """The students just created from ``rows`` (ids in the same order), with what the enrollment refresh reads.

    Made one by one as the refresh iterates, while its COPY streams, not all before it.
    """

    def __init__(self, rows: list[tuple[str, dict]], ids: list[int]):
        if len(rows) != len(ids):
            raise ValueError("one id per row")
        self.rows, self.ids = rows, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        defaults = {name: Student._meta.get_field(name).get_default() for name in _REFRESH_FIELDS}
        for pk, (number, values) in zip(self.ids, self.rows):  # noqa: B905 - equal lengths, checked above
            yield SimpleNamespace(pk=pk, identity_number=number, **{name: values.get(name, defaults[name]) for name in _REFRESH_FIELDS})


def _registered(*, where: str, params: list, fields: list[str]) -> dict[str, dict]:
    """Registered students matching ``where``, by identity number, with the fields the file carries."""
    registered: dict[str, dict] = {}
    columns = ["id", "identity_number", "school_id", *(Student._meta.get_field(f).column for f in fields)]
    keys = ["pk", "identity_number", "school_id", *fields]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{Student._meta.db_table}" WHERE {where}', params)
        for r in cursor.fetchall():
            registered[r[1]] = dict(zip(keys, r, strict=True))
    return registered


def _audit_updates(*, actor: Actor, updated_rows: list[tuple[int, dict]], school: School, roster_id: int, note: str, now) -> None:
    """One audit row per updated student with the old and new values."""
    if not updated_rows:
        return
    from enrollment.imports.pgcopy import copy_audit

    with connection.cursor() as cursor:
        copy_audit(cursor, at=now, rows=((AuditEvent.Action.STUDENT_UPDATE, pk, pk, changes) for pk, changes in updated_rows), fields=audit_fields(
            actor=actor, action="", obj=Student(pk=0), school_id=school.pk, roster_id=roster_id, note=note,
        ))


class _NothingWritten(Exception):
    """Raised inside the write transaction to roll it back in strict mode."""

    def __init__(self, parsed: ParsedFile):
        super().__init__()
        self.parsed = parsed


def _race() -> ValidationError:
    # Someone registered one of these numbers at another school between the check and the write:
    # rolled back rather than overwrite their record.
    return ValidationError(_("导入过程中有学生被其他学校同时登记，本次未导入任何数据；请重新导入。"), code="race")


def _write(*, table, school: School, year: InsuranceYear, actor: Actor, job: Job, mode: str, timings: dict) -> tuple[ParsedFile, dict]:
    """Check the file and write it, in the caller's transaction: (the checked file, counts).

    The new students are sent to the database while the rows are still being checked
    (the server stores one chunk while Python checks the next); a wrong row in strict
    mode rolls everything back, so nothing of a refused file stays.
    """
    from enrollment.services.enrollments import enrollments_refresh_bulk

    started = time.perf_counter()
    # Taken before the file is read, so the register cannot change under the comparison
    # and a confirmation cannot slip between check and write.
    roster = roster_lock_for_change(school=school, insurance_year=year)
    # No progress while checking: the rows are checked inside the COPY, which holds the connection.
    parsed, checked = parse_start(table, final_grade=school.final_grade)
    fields = parsed.fields
    now = timezone.now()
    writer = _StudentRows(school=school, fields=fields, now=now)
    new_rows, known_rows = [], []
    new_ids = None
    # A year's list (at least half the register) is sent while it is checked, against the whole
    # register read first. A short list at a large school (a few late students) is checked first
    # and compared by its own numbers: reading every registered student would cost more than it.
    if parsed.total * 2 >= Student.objects.filter(school=school).count():
        registered = _registered(where="school_id = %s", params=[school.pk], fields=fields)

        def new_only():
            for number, values in checked:
                if number in registered:
                    known_rows.append((number, values))
                else:
                    new_rows.append((number, values))
                    yield number, values

        # Every registered student may be in the file: the file needs at least that many new ids.
        new_ids = writer.copy_new(new_only(), reserve=parsed.total - len(registered))
    if new_ids is None:
        # A short list, or a number of the file registered at another school ended the COPY (nothing
        # of it kept): the rest of the file is checked, then compared with the registered numbers.
        for _rest in checked:
            pass
        # One array parameter: tens of thousands of IN placeholders cost more to build than the query.
        # Validated numbers are digits and letters, nothing to quote (see pgcopy.int_array).
        registered = _registered(where="identity_number = ANY(%s::varchar[])", params=["{" + ",".join(parsed.valid) + "}"], fields=fields)
        for number, row in registered.items():
            if row["school_id"] != school.pk:
                parsed.reject(number, _other_school_message(), str(_("身份证号码")))
        if parsed.errors and mode == MODE_STRICT:
            raise _NothingWritten(parsed)
        new_rows = [(n, v) for n, v in parsed.valid.items() if n not in registered]
        known_rows = [(n, v) for n, v in parsed.valid.items() if n in registered]
        new_ids = writer.copy_new(new_rows, reserve=len(new_rows))
        if new_ids is None:
            raise _race()
    elif parsed.errors and mode == MODE_STRICT:
        raise _NothingWritten(parsed)

    updated_rows, changed_rows = [], []
    for number, values in known_rows:
        current = registered[number]
        changes = {k: [current[k], values[k]] for k in fields if current[k] != values[k]}
        if changes:
            updated_rows.append((current["pk"], changes))
            changed_rows.append((number, values))
    updated_ids = writer.update_changed(changed_rows)
    if len(updated_ids) != len(changed_rows):
        raise _race()
    _audit_updates(actor=actor, updated_rows=updated_rows, school=school, roster_id=roster.pk, note=f"job {job.pk}", now=now)
    audit_record(
        actor=actor, action=AuditEvent.Action.STUDENT_IMPORT, obj=job, school_id=school.pk, roster_id=roster.pk,
        changes={"created": len(new_rows), "updated": len(updated_rows), "rejected_rows": len({e.row for e in parsed.errors})},
        note=job.input_name,
    )
    timings["check_write_students"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    changed = 0
    # The new students are handed to the refresh as written (not read back); the updated ones are
    # read by id under the roster locks.
    # In slices, inside the same transaction: slicing bounds the import's memory. The
    # refresh holds plain rows, not model instances, so a slice can be large.
    for start in range(0, len(new_rows), REFRESH_CHUNK):
        chunk = slice(start, start + REFRESH_CHUNK)
        changed += enrollments_refresh_bulk(actor=actor, roster=roster, student_ids=[], new_students=_Written(new_rows[chunk], new_ids[chunk]))
    for start in range(0, len(updated_ids), REFRESH_CHUNK):
        changed += enrollments_refresh_bulk(actor=actor, roster=roster, student_ids=updated_ids[start:start + REFRESH_CHUNK])
    timings["refresh_enrollments"] = round(time.perf_counter() - started, 3)
    counts = {"created": len(new_rows), "updated": len(updated_rows), "unchanged": len(parsed.valid) - len(new_rows) - len(changed_rows),
              "enrollments_changed": changed}
    return parsed, counts


# --- Export -----------------------------------------------------------------


def may_see_full_numbers(user, school: School) -> bool:
    """Full numbers only for the school's own coordinator or bureau staff whose scope covers the school."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    membership = membership_of(user)
    if membership is None:
        return False
    return School.objects.visible_to(user).filter(pk=school.pk).exists() and membership.role in (
        Role.COORDINATOR, Role.DISTRICT_STAFF, Role.CITY_STAFF,
    )


def students_export(*, actor: Actor, school: School, what: str, full_numbers: bool = False, ip_address: str | None = None) -> tuple[str, bytes]:
    """The register or the current roster as .xlsx; full identity numbers are logged as personal-data access."""
    year = school_year(school)
    if full_numbers and not may_see_full_numbers(actor.user, school):
        raise ValidationError(_("您无权导出完整身份证号码。"), code="forbidden")
    if what == "register":
        students = Student.objects.filter(school=school).order_by("grade", "class_name", "name")
        channels = dict(Enrollment.objects.filter(school=school, insurance_year=year).values_list("student_id", "channel"))
        from enrollment.models import Channel

        labels = dict(Channel.choices)
        content = exports.register_workbook(students.iterator(chunk_size=2000), full_numbers=full_numbers,
                                            year_channels={k: labels.get(v, v) for k, v in channels.items()})
        count = students.count()
        filename = f"{school.code}-students.xlsx"
    elif what == "roster":
        enrollments = (
            Enrollment.objects.filter(school=school, insurance_year=year)
            .select_related("student", "exemption_category")
            .order_by("student__grade", "student__class_name", "student__name")
        )
        content = exports.roster_workbook(enrollments.iterator(chunk_size=2000), full_numbers=full_numbers)
        count = enrollments.count()
        filename = f"{school.code}-roster-{year.label}.xlsx"
    else:
        raise ValidationError(_("未知的导出类型。"), code="invalid")
    if full_numbers:
        PersonalDataAccess.objects.create(
            user=actor.user, action=PersonalDataAccess.Action(f"export_{what}_full"), target=f"{school.code} {school.name} {year.label}", record_count=count,
            ip_address=ip_address,
        )
    return filename, content
