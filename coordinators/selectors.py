"""Reads for the coordinators' portal and the registry."""

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from coordinators.models import Coordinator
from enrollment.identity import normalize
from enrollment.models import (
    Channel,
    CollectionRoute,
    Enrollment,
    EnrollmentStatus,
    Hotline,
    InsuranceYear,
    Office,
    Roster,
    RosterState,
    School,
    SchoolAccount,
    Student,
    StudentStatus,
)
from enrollment.selectors import (
    ON_ROSTER,
    ROSTER_ORDER,
    exemption_letters_awaited,
    paid_before_transfer,
    school_data_stamp,
    suspected_graduates,
)
from enrollment.services.common import current_insurance_year
from enrollment.todos import Todo, school_todos


@dataclass
class HomeSummary:
    year: InsuranceYear | None
    days_left: int | None
    window_open: bool
    in_school: int = 0
    paying: int = 0
    exempt: int = 0
    other_channels: int = 0
    graduated: int = 0
    amount_due: Decimal = Decimal("0.00")
    roster_state: str = RosterState.OPEN
    coordinator_registered: bool = False
    coordinator_deadline: datetime.date | None = None
    todos: list[Todo] = field(default_factory=list)


def year_for(school: School) -> InsuranceYear | None:
    return current_insurance_year(city_id=school.office.city_id)


def home_summary(*, school: School, today: datetime.date | None = None) -> HomeSummary:
    today = today or timezone.localdate()
    year = year_for(school)
    window_open = bool(year and year.window_is_open(today))
    days_left = (year.window_end - today).days if window_open else None
    summary = HomeSummary(year=year, days_left=days_left, window_open=window_open)
    students = Student.objects.filter(school=school).aggregate(
        in_school=Count("pk", filter=Q(status=StudentStatus.IN_SCHOOL)),
        graduated=Count("pk", filter=Q(status=StudentStatus.GRADUATED)),
    )
    summary.in_school, summary.graduated = students["in_school"], students["graduated"]
    summary.coordinator_registered = Coordinator.objects.filter(school=school, active=True).exists()
    if year is not None:
        registered = Enrollment.objects.filter(school=school, insurance_year=year, status=EnrollmentStatus.REGISTERED)
        counts = registered.aggregate(
            paying=Count("pk", filter=Q(channel=Channel.SCHOOL, exemption_category__isnull=True)),
            exempt=Count("pk", filter=Q(channel=Channel.SCHOOL, exemption_category__isnull=False)),
            other=Count("pk", filter=~Q(channel=Channel.SCHOOL)),
            amount=Sum("fee_due", filter=Q(channel=Channel.SCHOOL)),
        )
        summary.paying, summary.exempt, summary.other_channels = counts["paying"], counts["exempt"], counts["other"]
        summary.amount_due = counts["amount"] or Decimal("0.00")
        roster = Roster.objects.filter(school=school, insurance_year=year).first()
        if roster is not None:  # transferred in after paying at the old school: nothing due here
            moved = paid_before_transfer(roster=roster).aggregate(n=Count("pk"), fee=Sum("fee_due"))
            summary.paying -= moved["n"]
            summary.amount_due -= moved["fee"] or Decimal("0.00")
        summary.roster_state = roster.state if roster else RosterState.OPEN
        summary.coordinator_deadline = year.coordinator_deadline
        if year.collection_route == CollectionRoute.BANK_DEBIT and not SchoolAccount.objects.filter(school=school, active=True).exists():
            summary.todos.append(Todo(_("学校尚无有效的扣费账户，银行无法扣款：请向经办机构提交开户银行和账号。"), reverse("portal:contacts")))
    awaited = exemption_letters_awaited(school=school, today=today)
    if awaited:
        summary.todos.append(Todo(ngettext(
            "%(n)d名非本市户籍学生在低保等名单中，须由经办机构录入民政局盖章确认函后才能免缴：请将确认函交所属经办机构。",
            "%(n)d名非本市户籍学生在低保等名单中，须由经办机构录入民政局盖章确认函后才能免缴：请将确认函交所属经办机构。",
            awaited,
        ) % {"n": awaited}, reverse("portal:contacts")))
    summary.todos.extend(school_todos(school=school, year=year, today=today))
    return summary


def student_list(*, school: School, year: InsuranceYear | None, params) -> tuple:
    """The register filtered by the list page's query parameters; the channel of the current year is annotated."""
    qs = Student.objects.filter(school=school)
    q = (params.get("q") or "").strip()
    if q:
        number = normalize(q)
        if len(number) == 18:
            qs = qs.filter(identity_number=number)
        else:
            qs = qs.filter(Q(name__icontains=q) | Q(class_name__icontains=q))
    if (grade := params.get("grade")) and str(grade).isdigit():
        qs = qs.filter(grade=int(grade))
    if class_name := (params.get("class_name") or "").strip():
        qs = qs.filter(class_name=class_name)
    if (status := params.get("status")) in StudentStatus.values:
        qs = qs.filter(status=status)
    if year is not None and (channel := params.get("channel")) in Channel.values:
        qs = qs.filter(enrollments__insurance_year=year, enrollments__channel=channel)
    return qs.order_by("grade", "class_name", "name", "pk")


def channels_for(students, year: InsuranceYear | None) -> dict[int, Enrollment]:
    if year is None:
        return {}
    return {
        e.student_id: e
        for e in Enrollment.objects.filter(insurance_year=year, student__in=[s.pk for s in students]).select_related("exemption_category")
    }


def class_names(school: School) -> list[str]:
    return list(Student.objects.filter(school=school).exclude(class_name="").values_list("class_name", flat=True).distinct().order_by("class_name"))


ROSTER_LISTS = ("paying", "exempt", "elsewhere", "suspected")
ROSTER_PAGE_SIZE = 50
# What the lists show: sorting narrow rows of a whole school is what the page's time goes to.
ROSTER_COLUMNS = (
    "channel", "channel_reason", "fee_due", "status", "exemption_category__name",
    "student__name", "student__identity_number", "student__grade", "student__class_name",
)


class _Counted:
    """A queryset whose length is already known (from the roster counts): the pager asks no COUNT."""

    def __init__(self, queryset, count: int):
        self.queryset, self._count = queryset, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, item):
        return self.queryset[item]


def roster_list_sizes(*, roster: Roster, counts, today: datetime.date | None = None) -> dict[str, int]:
    """How many rows each of the roster page's lists has; ``counts`` are the roster's ``roster_counts``."""
    return {
        "paying": counts.paying_count, "exempt": counts.exempt_count, "elsewhere": counts.elsewhere_count,
        "suspected": suspected_graduates(roster=roster, today=today).count(),
    }


def roster_page_cache_key(
    *, roster: Roster, which: str, page_number, today: datetime.date, language: str
) -> str | None:
    """Cache key of the roster page's counts and lists, or None when they must not be cached.

    Everything they show is in it: the roster's version and last change (every
    enrollment write bumps them), the school's data stamp (every student and
    graduate-record write changes it, by trigger), the year's fee, the school's
    final grade, kind and graduation date (suspected graduates; the school row
    has no stamp), the day (ages) and the language.
    Read it before the data: what is then cached under it is never older than it.
    """
    if settings.ROSTER_PAGE_CACHE_SECONDS <= 0:
        return None
    stamp = school_data_stamp(school_id=roster.school_id)
    if stamp is None:
        return None
    school, year = roster.school, roster.insurance_year
    try:
        page = max(1, int(page_number or 1))
    except (TypeError, ValueError):
        page = 1
    parts = (
        roster.pk, roster.version, roster.state, roster.updated_at.isoformat(), stamp,
        year.pk, str(year.fee_standard), year.fee_provisional, school.final_grade, school.kind, school.graduation_date,
        today.isoformat(), which, page, language,
    )
    return "roster-page:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def roster_list_page(*, roster: Roster, which: str, sizes: dict[str, int], page_number, today: datetime.date | None = None):
    """One page of one of the roster's lists (paying, exempt, other channels, suspected graduates)."""
    base = Enrollment.objects.filter(insurance_year_id=roster.insurance_year_id, school_id=roster.school_id)
    if which == "suspected":
        queryset = suspected_graduates(roster=roster, today=today)
    else:
        queryset = {
            "paying": base.filter(ON_ROSTER, exemption_category__isnull=True).exclude(
                pk__in=paid_before_transfer(roster=roster).values("pk")),
            "exempt": base.filter(ON_ROSTER, exemption_category__isnull=False),
            "elsewhere": base.filter(status=EnrollmentStatus.REGISTERED).exclude(channel=Channel.SCHOOL),
        }[which].select_related("student", "exemption_category").only(*ROSTER_COLUMNS).order_by(*ROSTER_ORDER)
    return Paginator(_Counted(queryset, sizes[which]), ROSTER_PAGE_SIZE).get_page(page_number)


def contacts(*, school: School) -> dict:
    city = school.office.city
    return {
        "city": city,
        "own_office": school.office,
        "offices": Office.objects.filter(city=city).order_by("code"),
        "hotlines": Hotline.objects.filter(city=city).order_by("order"),
    }


def schools_without_coordinator(*, user):
    """Schools visible to ``user`` with no active coordinator; ``late`` once the year's deadline passed."""
    return (
        School.objects.visible_to(user)
        .filter(active=True)
        .exclude(coordinators__active=True)
        .select_related("office")
        .order_by("office__code", "code")
    )


def removed_by_hand(*, roster: Roster):
    """Students the coordinator took off this roster by hand, newest first: they can be put back while it is open."""
    from enrollment.services.enrollments import auto_removal_reasons

    return (
        Enrollment.objects.filter(school_id=roster.school_id, insurance_year_id=roster.insurance_year_id, status=EnrollmentStatus.REMOVED)
        .exclude(status_reason__in=list(auto_removal_reasons().values()))
        .select_related("student").order_by("-updated_at", "-pk")
    )


def late_students_todos(*, school: School, year: InsuranceYear | None, today) -> list[Todo]:
    """Students registered after the roster was confirmed, waiting for the school's supplementary confirmation."""
    from enrollment.selectors import late_enrollments

    if year is None:
        return []
    roster = Roster.objects.filter(school=school, insurance_year=year).first()
    if roster is None:
        return []
    count = late_enrollments(roster=roster).count()
    if not count:
        return []
    return [Todo(
        ngettext("%(count)d名迟到学生待补充确认：请在参保名单页核对后确认。", "%(count)d名迟到学生待补充确认：请在参保名单页核对后确认。", count)
        % {"count": count},
        reverse("portal:roster") + "#supplementary",
    )]

def transfer_todos(*, school: School, year: InsuranceYear | None, today) -> list:
    """Transfer requests from other schools waiting for this school's answer, for the portal's to-do list."""
    from enrollment.selectors_changes import transfers_waiting
    from enrollment.todos import Todo

    count = transfers_waiting(school=school).count()
    if not count:
        return []
    return [Todo(_("%(count)d份转学申请等待本校处理（同意转出或拒绝）。") % {"count": count}, reverse("portal:transfers"))]
