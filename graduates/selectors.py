"""Reads of the graduates app: what the school must look at, what staff must decide."""

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from enrollment.models import School
from enrollment.todos import Todo
from graduates.models import DeregistrationRun, GraduateRecord


def exceptions_for_school(*, school: School, include_resolved: bool = False) -> QuerySet[GraduateRecord]:
    """Graduates reported for this school that were not stopped automatically.

    The school removes them by hand before confirming its roster (R8): unknown
    identity numbers, name mismatches, students found at another school or
    already left, and students on a roster already confirmed. The caller has
    checked the user may see ``school``; identity numbers must be shown masked.
    """
    records = GraduateRecord.objects.filter(school=school, outcome__in=GraduateRecord.EXCEPTIONS)
    if not include_resolved:
        records = records.filter(resolved_at__isnull=True)
    return records.select_related("feed", "student", "insurance_year").order_by("-feed__received_at", "row_number")


def stopped_for_school(*, school: School) -> QuerySet[GraduateRecord]:
    """Graduates deregistered automatically for this school: why they left the roster."""
    return (
        GraduateRecord.objects.filter(
            school=school,
            outcome__in=[GraduateRecord.Outcome.STOPPED, GraduateRecord.Outcome.REFUND, GraduateRecord.Outcome.WINDOW_CLOSED],
        )
        .select_related("student", "insurance_year")
        .order_by("-run_id", "name")
    )


def confirmed_roster_cases(*, user) -> QuerySet[GraduateRecord]:
    """Graduates on confirmed, unbilled rosters: bureau staff decide (scoped to what ``user`` sees)."""
    return (
        GraduateRecord.objects.visible_to(user)
        .filter(outcome=GraduateRecord.Outcome.CONFIRMED_ROSTER, resolved_at__isnull=True)
        .select_related("school", "student", "enrollment")
    )


def latest_run() -> DeregistrationRun | None:
    return DeregistrationRun.objects.order_by("-started_at").first()


def feed_records_of_school(*, school_id: int) -> QuerySet[GraduateRecord]:
    """The school's graduate records, which the roster review marks as suspected graduates.

    Through the school: the records' (school, outcome) index finds this school's
    few records instead of reading every graduate record of the city.
    """
    return GraduateRecord.objects.filter(school_id=school_id)


def school_todos(*, school: School, year, today) -> list:
    """Graduates the nightly run could not stop, for the portal's to-do list."""
    count = exceptions_for_school(school=school).count()
    if not count:
        return []
    return [Todo(_("%(count)d名毕业生未能自动停保，请逐一处理。") % {"count": count}, reverse("graduates:my-exceptions"))]
