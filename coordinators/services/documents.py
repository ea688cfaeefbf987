"""Printing personal rights records and treatment vouchers (R17): the job that renders them and its file's life."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.selectors_documents import record_enrollments
from enrollment.models import AuditEvent, InsuranceYear, Job, School, Student
from enrollment.services.common import Actor, audit_record
from enrollment.services.jobs import job_create

# A file nobody downloads is not kept for ever; a downloaded one goes soon after.
KEEP_UNTIL_DOWNLOADED = datetime.timedelta(days=7)
KEEP_AFTER_DOWNLOAD = datetime.timedelta(hours=1)


class Scope:
    SCHOOL = "school"
    CLASS = "class"
    STUDENT = "student"
    ALL = (SCHOOL, CLASS, STUDENT)


@transaction.atomic
def request_rights_records(
    *, actor: Actor, school: School, insurance_year: InsuranceYear, scope: str,
    class_name: str = "", student_id: int | None = None,
) -> Job:
    """Queue a PDF of rights records for the whole school, one class or one student of ``school``."""
    if insurance_year.city_id != school.office.city_id:
        raise ValidationError(_("参保年度不属于本校所在城市。"), code="year_city")
    params: dict = {"scope": scope}
    if scope == Scope.CLASS:
        if not class_name:
            raise ValidationError({"class_name": _("请选择班级。")}, code="class_required")
        params["class_name"] = class_name
    elif scope == Scope.STUDENT:
        # Another school's student is "not found", never "not yours": no existence leak.
        if student_id is None or not Student.objects.filter(pk=student_id, school=school).exists():
            raise ValidationError({"student": _("本校没有该学生。")}, code="student_not_found")
        params["student_id"] = student_id
    elif scope != Scope.SCHOOL:
        raise ValidationError({"scope": _("打印范围无效。")}, code="scope")
    total = record_enrollments(
        school=school, insurance_year=insurance_year,
        class_name=params.get("class_name"), student_id=params.get("student_id"),
    ).count()
    if not total:
        raise ValidationError(_("所选范围内没有%(year)s参保年度已登记的学生。") % {"year": insurance_year.label},
                              code="nothing_to_print")
    from coordinators.tasks.documents import render_rights_records_job

    job = job_create(
        kind=Job.Kind.DOCUMENTS, task=render_rights_records_job, created_by=actor.user, school=school,
        insurance_year=insurance_year, params=params, total=total,
    )
    audit_record(actor=actor, action=AuditEvent.Action.DOCUMENTS_REQUESTED, obj=job, school_id=school.pk,
                 changes={"scope": scope, "class_name": class_name, "count": total})
    return job


@transaction.atomic
def record_download(*, job: Job, now: datetime.datetime | None = None) -> Job:
    """The first download starts the short expiry; later downloads never extend it."""
    now = now or timezone.now()
    deadline = now + KEEP_AFTER_DOWNLOAD
    Job.objects.filter(pk=job.pk).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=deadline)).update(
        expires_at=deadline
    )
    job.refresh_from_db(fields=["expires_at"])
    return job


def is_downloadable(job: Job, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        job.kind == Job.Kind.DOCUMENTS and job.state == Job.State.SUCCEEDED and bool(job.output_file)
        and (job.expires_at is None or job.expires_at > now)
    )
