"""Reads of bureau notices (R18): what a coordinator sees, what is unread, who has not read a notice."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from coordinators.models import Notice, NoticeRead
from enrollment.models import Role, School
from enrollment.querysets import membership_of


def audience_q(school: School) -> Q:
    """Notices addressed to ``school``: to it, to its office, to its city, or to everyone."""
    office = school.office
    return (
        Q(school=school)
        | Q(school__isnull=True, office=office)
        | Q(school__isnull=True, office__isnull=True, city_id=office.city_id)
        | Q(school__isnull=True, office__isnull=True, city__isnull=True)
    )


def notices_for(user) -> QuerySet[Notice]:
    """Published notices addressed to the coordinator's school, newest first; nothing for anyone else."""
    membership = membership_of(user)
    if membership is None or membership.role != Role.COORDINATOR or membership.school_id is None:
        return Notice.objects.none()
    school = School.objects.select_related("office").get(pk=membership.school_id)
    return Notice.objects.filter(audience_q(school), published_at__lte=timezone.now()).order_by("-published_at", "-pk")


def unread_for(user) -> QuerySet[Notice]:
    return notices_for(user).exclude(reads__user=user)


def is_read(notice: Notice, user) -> bool:
    return NoticeRead.objects.filter(notice=notice, user=user).exists()


def notices_visible_to_staff(user) -> QuerySet[Notice]:
    """Bureau staff: city staff see their city's notices; district staff their office's and the city-wide ones."""
    if user.is_authenticated and user.is_superuser:
        return Notice.objects.all()
    membership = membership_of(user)
    if membership is None:
        return Notice.objects.none()
    if membership.role == Role.CITY_STAFF:
        city = membership.city_id
        return Notice.objects.filter(Q(city_id=city) | Q(office__city_id=city) | Q(school__office__city_id=city))
    if membership.role == Role.DISTRICT_STAFF:
        office = membership.office
        return Notice.objects.filter(
            Q(office=office) | Q(school__office=office)
            | Q(office__isnull=True, school__isnull=True, city_id=office.city_id)
        )
    return Notice.objects.none()


def audience_schools(notice: Notice) -> QuerySet[School]:
    if notice.school_id:
        return School.objects.filter(pk=notice.school_id)
    if notice.office_id:
        return School.objects.filter(office_id=notice.office_id)
    if notice.city_id:
        return School.objects.filter(office__city_id=notice.city_id)
    return School.objects.all()


def audience_users(notice: Notice):
    """The coordinators' login accounts the notice reaches."""
    return get_user_model().objects.filter(
        is_active=True, membership__role=Role.COORDINATOR, membership__school__in=audience_schools(notice).filter(active=True)
    )


def unread_users(notice: Notice):
    return (
        audience_users(notice)
        .exclude(pk__in=NoticeRead.objects.filter(notice=notice).values("user_id"))
        .select_related("membership__school")
        .order_by("membership__school__code", "username")
    )


def read_counts(notice: Notice) -> tuple[int, int]:
    """(read, audience) for the bureau's list."""
    audience = audience_users(notice)
    read = NoticeRead.objects.filter(notice=notice, user__in=audience).count()
    return read, audience.count()
