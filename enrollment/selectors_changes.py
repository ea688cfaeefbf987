"""Reads for the changes during the year: transfers, insurance elsewhere, follow-up of other channels.

A coordinator sees a transfer of another school's student only through these: the name and the masked
number the request needs, never the student's page.
"""

from django.db.models import OuterRef, Q, QuerySet, Subquery

from enrollment.models import (
    FOLLOWED_UP_CHANNELS,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    OtherInsurance,
    Roster,
    School,
    StudentStatus,
    Transfer,
)


def transfers_with_outcome(queryset: QuerySet) -> QuerySet:
    """Transfers with what ``transfer_outcome_text`` reads: the new school's roster state, in the same query."""
    return queryset.select_related("student", "from_school", "to_school").annotate(
        to_roster_state=Subquery(
            Roster.objects.filter(school_id=OuterRef("to_school_id"), insurance_year_id=OuterRef("insurance_year_id"))
            .values("state")[:1]
        )
    )


def transfers_for_school(*, school: School):
    """Transfers in and out of ``school``, newest first, with what both sides may see."""
    return transfers_with_outcome(Transfer.objects.filter(Q(from_school=school) | Q(to_school=school))).order_by(
        "-requested_at"
    )


def transfers_waiting(*, school: School):
    """Requests from other schools for this school's students, waiting for this school's answer."""
    return Transfer.objects.filter(from_school=school, state=Transfer.State.PENDING)


def transfers_pending_for_staff(*, user):
    """Pending requests whose old school lies in the staff member's scope."""
    return (
        Transfer.objects.visible_to(user).filter(state=Transfer.State.PENDING)
        .select_related("student", "from_school__office", "to_school__office")
        .order_by("requested_at")
    )


def follow_ups(*, user, insurance_year: InsuranceYear, open_only: bool = True):
    """Students of the staff member's schools sent to the village committee, civil affairs or the federation."""
    qs = (
        Enrollment.objects.visible_to(user)
        .filter(insurance_year=insurance_year, channel__in=FOLLOWED_UP_CHANNELS, status=EnrollmentStatus.REGISTERED,
                student__status=StudentStatus.IN_SCHOOL)
        .select_related("student", "school__office", "other_channel_enrollment")
        .order_by("school__office__code", "school__code", "student__grade", "student__class_name", "student__name")
    )
    if open_only:
        qs = qs.filter(other_channel_enrollment__isnull=True)
    return qs


def other_insurance_of(*, enrollment: Enrollment | None) -> OtherInsurance | None:
    if enrollment is None:
        return None
    return OtherInsurance.objects.filter(enrollment=enrollment).first()
