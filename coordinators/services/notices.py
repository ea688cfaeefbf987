"""Bureau notices to coordinators (R18): publishing within one's scope, and coordinators marking them read."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.models import Notice, NoticeRead
from coordinators.selectors_notices import notices_for
from enrollment.models import AuditEvent, City, Office, Role, School
from enrollment.querysets import membership_of
from enrollment.services.common import Actor, audit_record

NOTICE_FIELDS = ("kind", "title", "body", "city", "office", "school", "published_at")


def resolve_audience(*, user, city: City | None, office: Office | None, school: School | None) -> dict:
    """Check the publisher may address this audience and fill in the city the audience lies in."""
    if office is not None and school is not None:
        raise ValidationError(_("通知对象只能选择一个经办机构或一所学校，不能同时选择。"), code="two_audiences")
    if school is not None:
        office_of, city = school.office, school.office.city
    elif office is not None:
        office_of, city = office, office.city
    else:
        office_of = None
    if city is None and not (user and user.is_superuser):
        raise ValidationError({"city": _("请选择通知发往的城市、经办机构或学校。")}, code="no_audience")
    if not (user and user.is_superuser):
        membership = membership_of(user)
        role = membership.role if membership else None
        if role == Role.DISTRICT_STAFF:
            # District staff address only their own office's schools (GZ 3(3): the office trains its schools).
            if office_of is None or office_of.pk != membership.office_id:
                raise PermissionDenied(_("区经办人员只能向本经办机构所属学校发布通知。"))
        elif role == Role.CITY_STAFF:
            if city.pk != membership.city_id:
                raise PermissionDenied(_("只能向本市的学校发布通知。"))
        else:
            raise PermissionDenied(_("只有经办机构人员可以发布通知。"))
    return {"city": city, "office": office, "school": school}


@transaction.atomic
def publish_notice(
    *, actor: Actor, title: str, body: str, kind: str = Notice.Kind.ANNOUNCEMENT,
    city: City | None = None, office: Office | None = None, school: School | None = None,
    published_at: datetime.datetime | None = None,
) -> Notice:
    audience = resolve_audience(user=actor.user, city=city, office=office, school=school)
    if not title.strip() or not body.strip():
        raise ValidationError(_("通知的标题和内容不能为空。"), code="empty")
    notice = Notice.objects.create(
        kind=kind, title=title.strip(), body=body, published_at=published_at or timezone.now(),
        published_by=actor.user if getattr(actor.user, "is_authenticated", False) else None, **audience,
    )
    audit_record(actor=actor, action=AuditEvent.Action.NOTICE_PUBLISHED, obj=notice, school_id=school.pk if school else None,
                 changes={"title": notice.title, "office": office, "school": school, "city": audience["city"]})
    return notice


@transaction.atomic
def update_notice(*, actor: Actor, notice: Notice, title: str, body: str, kind: str,
                  city: City | None = None, office: Office | None = None, school: School | None = None,
                  published_at: datetime.datetime | None = None) -> Notice:
    current = Notice.objects.select_for_update().get(pk=notice.pk)
    # The publisher must be allowed both the old audience and the new one.
    resolve_audience(user=actor.user, city=current.city, office=current.office, school=current.school)
    audience = resolve_audience(user=actor.user, city=city, office=office, school=school)
    before = {field: getattr(current, field) for field in NOTICE_FIELDS}
    current.kind, current.title, current.body = kind, title.strip(), body
    current.city, current.office, current.school = audience["city"], audience["office"], audience["school"]
    current.published_at = published_at or current.published_at
    current.save()
    after = {field: getattr(current, field) for field in NOTICE_FIELDS}
    audit_record(actor=actor, action=AuditEvent.Action.NOTICE_UPDATED, obj=current,
                 changes={k: [before[k], after[k]] for k in NOTICE_FIELDS if before[k] != after[k]})
    return current


@transaction.atomic
def mark_read(*, user, notice: Notice) -> NoticeRead:
    """Idempotent: reading twice keeps the first time. Only a notice addressed to the user's school."""
    if not notices_for(user).filter(pk=notice.pk).exists():
        raise Notice.DoesNotExist
    # get_or_create with the (notice, user) unique constraint: a double click cannot record two reads.
    read, _created = NoticeRead.objects.get_or_create(notice=notice, user=user)
    return read


@transaction.atomic
def mark_all_read(*, user) -> int:
    pending = list(notices_for(user).exclude(reads__user=user).values_list("pk", flat=True))
    NoticeRead.objects.bulk_create(
        [NoticeRead(notice_id=pk, user=user) for pk in pending], ignore_conflicts=True
    )
    return len(pending)
