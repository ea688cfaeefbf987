"""Citizen cards (R14): photos of paid students without a card, the bureau's photo package, pickup.

Photos are personal data: they are checked before anything is stored
(JPEG by magic bytes and by Pillow, size, dimensions, no decompression
bombs), stored in the private storage under the student's id, and served
only through access-checked views.
"""

import datetime
import io
import zipfile
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from enrollment import identity
from enrollment.exports import XlsxWriter, register_export
from enrollment.models import (
    AuditEvent,
    CitizenCard,
    Enrollment,
    EnrollmentStatus,
    Job,
    PaymentStatus,
    PersonalDataAccess,
    School,
    Student,
    StudentStatus,
)
from enrollment.services.common import Actor, audit_fields, audit_record
from enrollment.services.jobs import job_create, job_execute, job_succeed_with_file

# The card office's photo format: a 358x441 portrait; a little tolerance on the ratio for scans.
PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_MIN_SIZE = (295, 413)
PHOTO_MAX_SIZE = (1200, 1500)
PHOTO_RATIO_RANGE = (0.75, 0.87)
ZIP_MAX_BYTES = 200 * 1024 * 1024
ZIP_MAX_FILES = 5000
JPEG_MAGIC = b"\xff\xd8\xff"
SETTLED = (PaymentStatus.PAID, PaymentStatus.FUNDED)
# Once the photo has gone to the card office it can no longer be swapped.
PHOTO_CHANGEABLE = (CitizenCard.State.PHOTO_MISSING, CitizenCard.State.PHOTO_SUBMITTED)


def students_needing_card(*, schools, insurance_year=None):
    """Students of ``schools`` without a card whose enrollment is paid or funded (any year unless given)."""
    settled = Enrollment.objects.filter(status=EnrollmentStatus.REGISTERED, payment_status__in=SETTLED)
    if insurance_year is not None:
        settled = settled.filter(insurance_year=insurance_year)
    return (
        Student.objects.filter(school__in=schools, has_citizen_card=False, status=StudentStatus.IN_SCHOOL)
        .filter(pk__in=settled.values("student_id"))
        .select_related("school", "citizen_card")
        .order_by("school_id", "grade", "class_name", "name", "pk")
    )


def photo_check(data: bytes, *, where: str) -> tuple[int, int]:
    """Raise a ValidationError naming ``where`` unless ``data`` is an acceptable ID photo; return its size."""
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationError(
            _("%(where)s：照片大小为%(size).1fMB，超过%(max)dMB上限。")
            % {"where": where, "size": len(data) / 1024 / 1024, "max": PHOTO_MAX_BYTES // 1024 // 1024},
            code="photo_too_large",
        )
    if not data.startswith(JPEG_MAGIC):
        raise ValidationError(_("%(where)s：照片必须是JPEG格式（.jpg）。") % {"where": where}, code="photo_not_jpeg")
    try:
        # Opening reads only the header: the dimensions are checked before any pixel is decoded.
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise ValidationError(_("%(where)s：照片必须是JPEG格式（.jpg）。") % {"where": where}, code="photo_not_jpeg")
            width, height = image.size
            if width > PHOTO_MAX_SIZE[0] or height > PHOTO_MAX_SIZE[1]:
                raise ValidationError(
                    _("%(where)s：照片尺寸%(w)d×%(h)d像素过大，最大%(mw)d×%(mh)d像素。")
                    % {"where": where, "w": width, "h": height, "mw": PHOTO_MAX_SIZE[0], "mh": PHOTO_MAX_SIZE[1]},
                    code="photo_dimensions",
                )
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Image.DecompressionBombError as exc:
        raise ValidationError(
            _("%(where)s：照片尺寸过大，最大%(mw)d×%(mh)d像素。") % {"where": where, "mw": PHOTO_MAX_SIZE[0], "mh": PHOTO_MAX_SIZE[1]},
            code="photo_dimensions",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError(_("%(where)s：照片文件已损坏或不是有效的JPEG图片。") % {"where": where}, code="photo_invalid") from exc
    if width < PHOTO_MIN_SIZE[0] or height < PHOTO_MIN_SIZE[1]:
        raise ValidationError(
            _("%(where)s：照片尺寸%(w)d×%(h)d像素过小，至少%(mw)d×%(mh)d像素（标准为358×441）。")
            % {"where": where, "w": width, "h": height, "mw": PHOTO_MIN_SIZE[0], "mh": PHOTO_MIN_SIZE[1]},
            code="photo_dimensions",
        )
    ratio = width / height
    if not PHOTO_RATIO_RANGE[0] <= ratio <= PHOTO_RATIO_RANGE[1]:
        raise ValidationError(
            _("%(where)s：照片宽高比例不符合要求（%(w)d×%(h)d），应为竖版证件照，标准尺寸358×441像素。")
            % {"where": where, "w": width, "h": height},
            code="photo_ratio",
        )
    return width, height


def _read_upload(upload, *, limit: int) -> bytes:
    # One byte over the limit is enough to refuse; a huge upload is never read whole.
    return upload.read(limit + 1)


def _eligible_student(*, student: Student, where: str) -> None:
    if student.has_citizen_card:
        raise ValidationError(_("%(where)s：该学生已有市民卡，无需上传照片。") % {"where": where}, code="has_card")
    settled = Enrollment.objects.filter(
        student=student, status=EnrollmentStatus.REGISTERED, payment_status__in=SETTLED
    ).exists()
    if not settled:
        raise ValidationError(_("%(where)s：该学生尚未缴费，缴费后才能办理市民卡。") % {"where": where}, code="not_paid")


def _store_photo(*, actor: Actor, student: Student, data: bytes, now) -> CitizenCard:
    card, _created = CitizenCard.objects.select_for_update().get_or_create(student=student)
    if card.state not in PHOTO_CHANGEABLE:
        raise ValidationError(
            _("%(name)s的照片已报送制卡（状态：%(state)s），不能再更换。") % {"name": student.name, "state": card.get_state_display()},
            code="card_sent",
        )
    old_name = card.photo.name if card.photo else ""
    # Named by the student's id, never by the identity number: file paths end up in logs.
    card.photo.save(f"student-{student.pk}.jpg", ContentFile(data), save=False)
    card.state = CitizenCard.State.PHOTO_SUBMITTED
    card.photo_uploaded_at = now
    card.save(update_fields=["photo", "state", "photo_uploaded_at"])
    if old_name and old_name != card.photo.name:
        transaction.on_commit(lambda: card.photo.storage.delete(old_name))
    return card


@transaction.atomic
def card_photo_upload(*, actor: Actor, student: Student, upload) -> CitizenCard:
    """One student's photo, from the portal's per-student form."""
    where = _("%(name)s的照片") % {"name": student.name}
    _eligible_student(student=student, where=where)
    data = _read_upload(upload, limit=PHOTO_MAX_BYTES)
    photo_check(data, where=where)
    card = _store_photo(actor=actor, student=student, data=data, now=timezone.now())
    audit_record(actor=actor, action=AuditEvent.Action.CARD_PHOTO_UPLOAD, obj=card, school_id=student.school_id, student_id=student.pk)
    return card


@dataclass
class PhotoBatchResult:
    stored: int = 0
    errors: list[str] = field(default_factory=list)


def card_photos_upload_zip(*, actor: Actor, school: School, upload) -> PhotoBatchResult:
    """A zip of ``<identity number>.jpg`` files: every file is checked first, then all are stored, or none."""
    result = PhotoBatchResult()
    raw = upload.read(ZIP_MAX_BYTES + 1)
    if len(raw) > ZIP_MAX_BYTES:
        raise ValidationError(_("压缩包超过%(max)dMB上限。") % {"max": ZIP_MAX_BYTES // 1024 // 1024}, code="zip_too_large")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise ValidationError(_("上传的文件不是有效的ZIP压缩包。"), code="zip_invalid") from exc
    entries = [info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
    if len(entries) > ZIP_MAX_FILES:
        raise ValidationError(_("压缩包中文件过多（最多%(max)d个）。") % {"max": ZIP_MAX_FILES}, code="zip_too_many")
    if not entries:
        raise ValidationError(_("压缩包中没有照片。"), code="zip_empty")

    students = {s.identity_number: s for s in Student.objects.filter(school=school)}
    clean: list[tuple[Student, bytes]] = []
    seen = set()
    for info in entries:
        base = info.filename.rsplit("/", 1)[-1]
        where = _("压缩包中的文件“%(file)s”") % {"file": base}
        stem, dot, ext = base.rpartition(".")
        if not dot or ext.lower() not in {"jpg", "jpeg"}:
            result.errors.append(_("%(where)s：文件名应为“身份证号码.jpg”。") % {"where": where})
            continue
        try:
            number = identity.validate(stem)
        except ValidationError as exc:
            result.errors.append(f"{where}：{exc.messages[0]}")
            continue
        student = students.get(number)
        if student is None:
            result.errors.append(_("%(where)s：本校没有该身份证号码的学生。") % {"where": where})
            continue
        if number in seen:
            result.errors.append(_("%(where)s：同一学生有多张照片。") % {"where": where})
            continue
        seen.add(number)
        if info.file_size > PHOTO_MAX_BYTES:
            # Checked on the declared size before decompressing: a zip bomb is refused unread.
            result.errors.append(
                _("%(where)s：照片大小超过%(max)dMB上限。") % {"where": where, "max": PHOTO_MAX_BYTES // 1024 // 1024}
            )
            continue
        with archive.open(info) as member:
            data = member.read(PHOTO_MAX_BYTES + 1)
        try:
            _eligible_student(student=student, where=where)
            photo_check(data, where=where)
        except ValidationError as exc:
            result.errors.extend(exc.messages)
            continue
        clean.append((student, data))
    if result.errors:
        return result
    _store_many(actor=actor, school=school, clean=clean)
    result.stored = len(clean)
    return result


@transaction.atomic
def _store_many(*, actor: Actor, school: School, clean: list[tuple[Student, bytes]]) -> None:
    now = timezone.now()
    events = []
    from enrollment.models import AuditEvent

    for student, data in clean:
        card = _store_photo(actor=actor, student=student, data=data, now=now)
        events.append(AuditEvent(**audit_fields(
            actor=actor, action=AuditEvent.Action.CARD_PHOTO_UPLOAD, obj=card, school_id=school.pk, student_id=student.pk, note="zip",
        )))
    AuditEvent.objects.bulk_create(events)


@transaction.atomic
def cards_export_request(*, actor: Actor) -> Job:
    """Start the bureau's photo package for every submitted photo the user can see; built by a task."""
    from enrollment.tasks.cards import cards_export_package_task

    return job_create(kind=Job.Kind.PHOTO_EXPORT, task=cards_export_package_task, created_by=actor.user)


def cards_export_package(*, job_id: int) -> Job:
    """Build the package of a PHOTO_EXPORT job now (what the task does).

    Safe to run twice: the job is claimed with a conditional UPDATE, so a
    redelivered task finds it no longer pending and does nothing.
    """
    return job_execute(job_id=job_id, body=cards_export_build) or Job.objects.get(pk=job_id)


def cards_export_build(job: Job) -> None:
    """The body of a PHOTO_EXPORT job: an Excel list and ``<identity number>.jpg`` files, zipped."""
    _build_package(job)


def card_list_workbook(students) -> bytes:
    """The card maker's list: one row per student, the photo named after the identity number."""
    writer = XlsxWriter()
    sheet = writer.sheet(_("制卡名单"))
    sheet.header([_("序号"), _("姓名"), _("性别"), _("身份证号码"), _("出生日期"), _("学校代码"), _("学校名称"), _("班级"), _("照片文件名")])
    for number, student in enumerate(students, start=1):
        sheet.row([
            number, student.name, student.get_sex_display(), student.identity_number, student.birth_date.isoformat(),
            student.school.code, student.school.name, student.class_name, f"{student.identity_number}.jpg",
        ], text=(1, 3, 5, 6, 7, 8))
    return writer.save()


register_export("card_maker_list", kind="xlsx", probe=lambda text: card_list_workbook([SimpleNamespace(
    name=text, identity_number=text, get_sex_display=lambda: text, birth_date=datetime.date(2010, 3, 15),
    school=SimpleNamespace(code=text, name=text), class_name=text,
)]))


@transaction.atomic
def _build_package(job: Job) -> None:
    user = job.created_by
    # Row locks: a card being re-photographed in the portal waits until the package is written.
    cards = list(
        CitizenCard.objects.visible_to(user)
        .select_for_update(of=("self",))
        .filter(state=CitizenCard.State.PHOTO_SUBMITTED)
        .select_related("student__school")
        .order_by("student__school__code", "student__grade", "student__class_name", "student__name")
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for card in cards:
            photo_name = f"{card.student.identity_number}.jpg"
            with card.photo.open("rb") as photo:
                archive.writestr(f"photos/{photo_name}", photo.read())
        archive.writestr("list.xlsx", card_list_workbook([card.student for card in cards]))
    now = timezone.now()
    CitizenCard.objects.filter(pk__in=[c.pk for c in cards]).update(state=CitizenCard.State.SENT, sent_at=now)
    # Ended in the same transaction as the cards it sends: both commit, or neither; the
    # package is moved into place only after that commit.
    job_succeed_with_file(
        job=job, file_name=f"card-photos-{now:%Y%m%d-%H%M%S}.zip", content=ContentFile(buffer.getvalue()),
        result={"cards": len(cards)}, progress=len(cards), total=len(cards), expires_at=now + datetime.timedelta(days=7),
    )
    if cards and user is not None:
        PersonalDataAccess.objects.create(user=user, action=PersonalDataAccess.Action.CARD_PHOTO_EXPORT, target=f"job {job.pk}", record_count=len(cards))
    actor = Actor.job("cards_export_package")
    from enrollment.models import AuditEvent

    AuditEvent.objects.bulk_create([
        AuditEvent(**audit_fields(
            actor=actor, action=AuditEvent.Action.CARD_SENT, obj=card, school_id=card.student.school_id, student_id=card.student_id,
            changes={"state": [CitizenCard.State.PHOTO_SUBMITTED, CitizenCard.State.SENT]}, note=f"job {job.pk}",
        ))
        for card in cards
    ])


@transaction.atomic
def card_mark_ready(*, actor: Actor, card: CitizenCard) -> CitizenCard:
    card = CitizenCard.objects.select_for_update().get(pk=card.pk)
    if card.state != CitizenCard.State.SENT:
        raise ValidationError(
            _("只有已报送制卡的市民卡才能标记为待领取（当前状态：%(state)s）。") % {"state": card.get_state_display()},
            code="card_state",
        )
    card.state = CitizenCard.State.READY
    card.save(update_fields=["state"])
    audit_record(
        actor=actor, action=AuditEvent.Action.CARD_READY, obj=card, school_id=card.student.school_id, student_id=card.student_id,
        changes={"state": [CitizenCard.State.SENT, CitizenCard.State.READY]},
    )
    return card


@transaction.atomic
def card_mark_picked_up(*, actor: Actor, card: CitizenCard, picked_up_on: datetime.date | None = None) -> CitizenCard:
    card = CitizenCard.objects.select_for_update().get(pk=card.pk)
    if card.state != CitizenCard.State.READY:
        raise ValidationError(
            _("只有待领取的市民卡才能登记领取（当前状态：%(state)s）。") % {"state": card.get_state_display()},
            code="card_state",
        )
    day = picked_up_on or timezone.localdate()
    if day > timezone.localdate():
        raise ValidationError({"picked_up_on": ValidationError(_("领取日期不能晚于今天。"), code="future_date")})
    card.state = CitizenCard.State.PICKED_UP
    card.picked_up_on = day
    card.save(update_fields=["state", "picked_up_on"])
    Student.objects.filter(pk=card.student_id).update(has_citizen_card=True, updated_at=timezone.now())
    audit_record(
        actor=actor, action=AuditEvent.Action.CARD_PICKED_UP, obj=card, school_id=card.student.school_id, student_id=card.student_id,
        changes={"state": [CitizenCard.State.READY, CitizenCard.State.PICKED_UP], "picked_up_on": [None, day]},
    )
    return card
