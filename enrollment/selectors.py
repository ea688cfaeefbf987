"""Reads of the core: what a school reviews before confirming, and whether a student is covered.

Scoping is the caller's job (``visible_to``); these functions answer for the
roster or the identity number they are given.
"""

import datetime
import functools
import hashlib
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import (
    Bank,
    Channel,
    ConfirmationLine,
    Enrollment,
    EnrollmentStatus,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    InsuranceYear,
    Office,
    PaymentStatus,
    Roster,
    RosterConfirmation,
    RosterState,
    School,
    SchoolAccount,
    SchoolDataStamp,
    Student,
    StudentStatus,
)
from enrollment.rowset import RowSet
from enrollment.selectors_coverage import StudentCoverage, student_coverage


@dataclass
class SuspectedGraduate:
    enrollment_id: int
    student_id: int
    name: str
    grade: int
    class_name: str
    reasons: list[str]


@dataclass
class RosterPreview:
    roster_id: int
    state: str
    version: int
    paying_count: int
    fee_standard: Decimal
    amount: Decimal
    fee_provisional: bool
    exempt_count: int
    exempt_by_category: dict[str, int]
    other_channels: dict[str, int]
    removed_count: int
    suspected_graduates: list[SuspectedGraduate] = field(default_factory=list)
    paid_before_transfer: int = 0
    at_other_school: list[dict] = field(default_factory=list)
    removed_since_last_year: list[dict] = field(default_factory=list)

    @property
    def total_count(self) -> int:
        return self.paying_count + self.exempt_count


# Lists of students reported as leaving, kept by apps built on the core (the
# graduate feeds). Each is a function ``(*, school_id) -> QuerySet`` of rows with
# a ``student_id``; the app registers it when it starts, so the core asks for
# them without knowing who keeps them.
_leaver_listings: list[Callable[..., QuerySet]] = []


def leaver_listing_register(listing: Callable[..., QuerySet]) -> None:
    """Add a list of leaving students that ``suspected_graduates`` marks as ``in_feed``."""
    if listing not in _leaver_listings:
        _leaver_listings.append(listing)


def school_data_stamp(*, school_id: int) -> str | None:
    """The token of the school's students and graduate records (``SchoolDataStamp``).

    A school none of whose rows were ever written has no stamp row yet: its
    first write creates one, so "0" is safe until then.
    """
    # Read on every cached page view: plain SQL costs a third of the ORM's query building.
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT token FROM "{SchoolDataStamp._meta.db_table}" WHERE school_id = %s', [school_id])
        row = cursor.fetchone()
    return uuid.UUID(str(row[0])).hex if row else "0"


def student_list_cache_key(*, school: School, url: str) -> str | None:
    """Cache key of one page of a school's student list as the API answers it, or None.

    The page shows the school's students, every column of them (the school's
    data stamp changes with any write to them, by trigger), and the school's
    name; the absolute URL carries the host of the page links, the filters, the
    ordering and the page. Read it before the data: what is then cached under
    it is never older than it.
    """
    if settings.STUDENT_LIST_CACHE_SECONDS <= 0:
        return None
    stamp = school_data_stamp(school_id=school.pk)
    if stamp is None:
        return None
    parts = (school.pk, school.name, stamp, url)
    return "student-list:" + hashlib.sha256(repr(parts).encode()).hexdigest()


ON_ROSTER = Q(channel=Channel.SCHOOL, status=EnrollmentStatus.REGISTERED)
# Charged already: a confirmation never freezes these again (enrollment.services.rosters.roster_confirm).
CHARGED_ELSEWHERE = (PaymentStatus.BILLED, PaymentStatus.PAID, PaymentStatus.REFUNDED)
ROSTER_ORDER = ("student__grade", "student__class_name", "student__name", "pk")


@dataclass
class RosterCounts:
    """Head counts of a roster, read in one grouped query."""

    paying_count: int = 0
    exempt_by_category: dict[str, int] = field(default_factory=dict)
    other_channels: dict[str, int] = field(default_factory=dict)
    removed_count: int = 0
    # Transferred in after paying at the old school: on the roster, never charged here (not in paying_count).
    paid_before_transfer: int = 0

    @property
    def exempt_count(self) -> int:
        return sum(self.exempt_by_category.values())

    @property
    def elsewhere_count(self) -> int:
        return sum(self.other_channels.values())


def paid_before_transfer(*, roster: Roster):
    """Paying enrollments of the roster charged through another school's list (transferred in after paying)."""
    return (
        Enrollment.objects.filter(insurance_year_id=roster.insurance_year_id, school_id=roster.school_id,
                                  exemption_category__isnull=True, payment_status__in=CHARGED_ELSEWHERE)
        .filter(ON_ROSTER).exclude(confirmation_lines__confirmation__roster_id=roster.pk)
    )


def roster_counts(*, roster: Roster) -> RosterCounts:
    counts = RosterCounts()
    labels = dict(Channel.choices)
    rows = (
        Enrollment.objects.filter(insurance_year_id=roster.insurance_year_id, school_id=roster.school_id)
        .values_list("status", "channel", "exemption_category__name")
        .annotate(n=Count("pk"))
        .order_by("channel", "exemption_category__name")
    )
    for status, channel, category, n in rows:
        if status != EnrollmentStatus.REGISTERED:
            counts.removed_count += n
        elif channel != Channel.SCHOOL:
            label = str(labels.get(channel, channel))
            counts.other_channels[label] = counts.other_channels.get(label, 0) + n
        elif category is None:
            counts.paying_count += n
        else:
            counts.exempt_by_category[category] = counts.exempt_by_category.get(category, 0) + n
    counts.paid_before_transfer = paid_before_transfer(roster=roster).count()
    counts.paying_count -= counts.paid_before_transfer
    return counts


def _final_grade_graduated(school, today: datetime.date) -> bool:
    """The school's final grade has graduated this school year: its graduation date has passed."""
    return school.graduation_date is not None and school.graduation_date <= today


def suspected_graduates(*, roster: Roster, today: datetime.date | None = None):
    """Enrollments still on the roster whose student the evidence says has graduated, ``in_feed`` annotated.

    Only evidence counts: the school's graduation date has passed for its final grade, a grade beyond the
    school's last, or a graduate feed names the student. Before graduation a final-grade student is a
    student and must stay insured, so the grade alone flags nobody.
    """
    school = roster.school
    today = today or timezone.localdate()
    suspects_q = Q(student__grade__gt=school.final_grade)
    if _final_grade_graduated(school, today):
        suspects_q |= Q(student__grade__gte=school.final_grade)
    qs = Enrollment.objects.filter(insurance_year_id=roster.insurance_year_id, school_id=roster.school_id).filter(ON_ROSTER)
    if _leaver_listings:
        # Per school: a listing reads this school's few rows, not every row of the city.
        in_feed = functools.reduce(operator.or_, (
            Exists(listing(school_id=roster.school_id).filter(student_id=OuterRef("student_id")))
            for listing in _leaver_listings
        ))
        qs = qs.annotate(in_feed=in_feed)
        suspects_q |= Q(in_feed=True)
    else:
        qs = qs.annotate(in_feed=Value(False))
    return qs.filter(suspects_q).select_related("student").order_by(*ROSTER_ORDER)


def suspect_reasons(enrollment: Enrollment, *, school, today: datetime.date | None = None) -> list[str]:
    today = today or timezone.localdate()
    student = enrollment.student
    reasons = []
    if student.grade > school.final_grade:
        reasons.append(_("年级%(grade)s超出本校最高年级（%(final)s年级）") % {"grade": student.grade, "final": school.final_grade})
    elif student.grade == school.final_grade and _final_grade_graduated(school, today):
        reasons.append(_("最高年级（%(grade)s年级），本校已于%(day)s毕业") % {
            "grade": student.grade, "day": school.graduation_date.isoformat()})
    if getattr(enrollment, "in_feed", False):
        reasons.append(_("在毕业生数据中"))
    return reasons


def roster_preview(*, roster: Roster, suspect_limit: int = 500) -> RosterPreview:
    year = roster.insurance_year
    school = roster.school
    counts = roster_counts(roster=roster)
    paying_count = counts.paying_count
    today = timezone.localdate()
    suspects = [
        SuspectedGraduate(
            enrollment_id=enrollment.pk, student_id=enrollment.student_id, name=enrollment.student.name,
            grade=enrollment.student.grade, class_name=enrollment.student.class_name,
            reasons=suspect_reasons(enrollment, school=school, today=today),
        )
        for enrollment in suspected_graduates(roster=roster, today=today)[:suspect_limit]
    ]

    # This school's students whose enrollment for this year is held by another school (moved schools).
    at_other_school = list(
        Enrollment.objects.filter(insurance_year=year, student__school=school)
        .exclude(school=school)
        .annotate(student_name=F("student__name"), other_school=F("school__name"))
        .values("pk", "student_id", "student_name", "other_school")[:suspect_limit]
    )

    # Enrolled here last year, not on this year's roster.
    previous = (
        InsuranceYear.objects.filter(city_id=year.city_id, coverage_start__lt=year.coverage_start)
        .order_by("-coverage_start")
        .first()
    )
    removed_since_last_year = []
    if previous is not None:
        this_year_on_roster = Enrollment.objects.filter(insurance_year=year, school=school).filter(ON_ROSTER)
        removed_since_last_year = list(
            Enrollment.objects.filter(insurance_year=previous, school=school, status=EnrollmentStatus.REGISTERED)
            .exclude(student_id__in=this_year_on_roster.values("student_id"))
            .annotate(student_name=F("student__name"), student_status=F("student__status"))
            .values("student_id", "student_name", "student_status")[:suspect_limit]
        )

    fee = year.fee_standard
    return RosterPreview(
        roster_id=roster.pk,
        state=roster.state,
        version=roster.version,
        paying_count=paying_count,
        fee_standard=fee,
        amount=(fee * paying_count).quantize(Decimal("0.01")),
        fee_provisional=year.fee_provisional,
        exempt_count=counts.exempt_count,
        exempt_by_category=counts.exempt_by_category,
        other_channels=counts.other_channels,
        removed_count=counts.removed_count,
        paid_before_transfer=counts.paid_before_transfer,
        suspected_graduates=suspects,
        at_other_school=at_other_school,
        removed_since_last_year=removed_since_last_year,
    )


def coverage_lookup(*, identity_number: str, insurance_year: InsuranceYear) -> StudentCoverage:
    """Coverage of the student with this number (not scoped: callers scope first); see ``selectors_coverage``."""
    student = Student.objects.filter(identity_number=identity_number).first()
    return student_coverage(student=student, insurance_year=insurance_year)



# --- What billing charges, as rows to join (set-based) ------------------------


def confirmation_charges(*, insurance_year_id: int) -> RowSet:
    """The live confirmations of the year that billing charges, with what each charges.

    Columns: confirmation_id, roster_id, insurance_year_id, school_id,
    head_count and amount of the lines with a fee (exempt lines, fee 0, are not
    charged), supplementary. The first confirmation of a roster is there while
    the roster is confirmed (not yet billed); a supplementary confirmation (late
    students) whatever the roster's state, since it is confirmed after the first.
    Billing skips those already charged. A reopened confirmation is not there.
    """
    confirmation, roster, line = (
        RosterConfirmation._meta.db_table, Roster._meta.db_table, ConfirmationLine._meta.db_table
    )
    return RowSet(
        f"""
        SELECT c.id AS confirmation_id, r.id AS roster_id, r.insurance_year_id, r.school_id,
               agg.n AS head_count, agg.amount, c.supplementary
          FROM {confirmation} c
          JOIN {roster} r ON r.id = c.roster_id
          JOIN (SELECT l.confirmation_id, count(*) AS n, sum(l.fee) AS amount
                  FROM {line} l
                  JOIN {confirmation} lc ON lc.id = l.confirmation_id
                  JOIN {roster} lr ON lr.id = lc.roster_id
                 WHERE lr.insurance_year_id = %s AND lc.reopened_at IS NULL AND (lr.state = %s OR lc.supplementary)
                   AND l.fee > 0
                 GROUP BY l.confirmation_id) agg ON agg.confirmation_id = c.id
         WHERE r.insurance_year_id = %s AND c.reopened_at IS NULL AND (r.state = %s OR c.supplementary)
        """,
        (insurance_year_id, RosterState.CONFIRMED.value, insurance_year_id, RosterState.CONFIRMED.value),
    )


def late_enrollments(*, roster: Roster) -> QuerySet:
    """Students registered on a confirmed or billed roster after its confirmation, awaiting the supplementary one.

    On the school channel, registered, and on no confirmation in force: these are
    what ``roster_confirm_supplementary`` freezes. Empty while the roster is open
    (every registered student then goes on the first confirmation).
    """
    if roster.state == RosterState.OPEN:
        return Enrollment.objects.none()
    return Enrollment.objects.filter(
        insurance_year_id=roster.insurance_year_id, school_id=roster.school_id,
        channel=Channel.SCHOOL, status=EnrollmentStatus.REGISTERED,
    ).exclude(Exists(ConfirmationLine.objects.filter(enrollment=OuterRef("pk"), live=True)))


@dataclass
class SupplementaryPreview:
    """What confirming the late students would charge, with the students themselves (identity numbers masked)."""

    roster_id: int
    version: int
    count: int
    paying_count: int
    exempt_count: int
    fee_standard: Decimal
    amount: Decimal
    fee_provisional: bool
    students: list[dict] = field(default_factory=list)


def supplementary_preview(*, roster: Roster, limit: int = 500) -> SupplementaryPreview:
    from enrollment.identity import mask

    year = roster.insurance_year
    rows = list(
        late_enrollments(roster=roster).order_by("student__grade", "student__class_name", "student__name", "pk")
        .values("pk", "student_id", "student__name", "student__grade", "student__class_name",
                "student__identity_number", "fee_due", "exemption_category__name")
    )
    paying = [r for r in rows if r["exemption_category__name"] is None]
    amount = sum((r["fee_due"] for r in rows), Decimal("0.00"))
    return SupplementaryPreview(
        roster_id=roster.pk, version=roster.version, count=len(rows), paying_count=len(paying),
        exempt_count=len(rows) - len(paying), fee_standard=year.fee_standard, amount=amount,
        fee_provisional=year.fee_provisional,
        students=[
            {"enrollment_id": r["pk"], "student_id": r["student_id"], "name": r["student__name"], "grade": r["student__grade"],
             "class_name": r["student__class_name"], "masked_identity_number": mask(r["student__identity_number"]),
             "fee": r["fee_due"], "exemption": r["exemption_category__name"] or ""}
            for r in rows[:limit]
        ],
    )


def school_debit_accounts() -> RowSet:
    """The accounts fees may be debited from: active, agreement signed, at a bank allowed in the school's city.

    Columns: school_id, account_id, bank_id.
    """
    return RowSet(
        f"""
        SELECT a.school_id, a.id AS account_id, a.bank_id
          FROM {SchoolAccount._meta.db_table} a
          JOIN {School._meta.db_table} s ON s.id = a.school_id
          JOIN {Office._meta.db_table} o ON o.id = s.office_id
          JOIN {Bank.allowed_in.through._meta.db_table} ba ON ba.bank_id = a.bank_id AND ba.city_id = o.city_id
         WHERE a.active AND a.agreement_signed_on IS NOT NULL
        """
    )


def exemption_letters_awaited(*, school: School, today: datetime.date) -> int:
    """Students of the school a list names for a local-only exemption, who are non-local: only a stamped letter
    entered by the bureau exempts them (R7), and none is in the register yet. The school hands the letter in."""
    covering = Q(valid_from__lte=today) & (Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    city_id = school.office.city_id
    if not ExemptionCategory.objects.filter(city_id=city_id, requires_letter=True).exists():
        return 0
    listed = Exemption.objects.filter(
        covering, identity_number=OuterRef("identity_number"), category__city_id=city_id,
        category__local_hukou_only=True,
    ).exclude(source=ExemptionSource.CONFIRMATION_LETTER)
    lettered = Exemption.objects.filter(
        covering, identity_number=OuterRef("identity_number"), category__city_id=city_id,
        source=ExemptionSource.CONFIRMATION_LETTER,
    )
    return (
        Student.objects.filter(school=school, hukou_local=False, status=StudentStatus.IN_SCHOOL)
        .filter(Exists(listed)).exclude(Exists(lettered)).count()
    )
