"""Coverage monitoring (R15): rates per school and district.

Coverage rate of a school for a year: of its students in school who should
enroll through it (those routed to another channel are someone else's to
enroll), how many are covered: a registered school enrollment that is paid or
fully subsidised (the school's own, ``school_rate``), or proof of insurance
elsewhere (counted apart, ``insured_elsewhere``). Students routed to the village
committee, civil affairs or the federation are followed up by the bureau:
``followed_up`` of them were confirmed enrolled there, ``follow_up_open`` not yet. Reminders, the bureau's dashboard and its year-end report all read
these functions, so the three always show the same figure.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from enrollment.models import (
    FOLLOWED_UP_CHANNELS,
    ZERO,
    Channel,
    ChargeCorrection,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    PaymentStatus,
    Roster,
    RosterState,
    School,
    Student,
    StudentStatus,
)

SETTLED = (PaymentStatus.PAID, PaymentStatus.FUNDED)
CONFIRMED_STATES = (RosterState.CONFIRMED, RosterState.BILLED, RosterState.SETTLED)


def rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class SchoolCoverage:
    school_id: int
    code: str
    name: str
    office_id: int
    district: str
    in_school: int = 0
    other_channel: int = 0
    enrolled: int = 0
    settled: int = 0
    exempt: int = 0
    insured_elsewhere: int = 0
    followed_up: int = 0
    follow_up_open: int = 0
    roster_state: str = ""

    @property
    def expected(self) -> int:
        return self.in_school - self.other_channel

    @property
    def covered(self) -> int:
        return self.settled + self.insured_elsewhere

    @property
    def rate(self) -> Decimal | None:
        return rate(self.covered, self.expected)

    @property
    def school_rate(self) -> Decimal | None:
        """Covered through the school itself (paid or fully subsidised), without those insured elsewhere."""
        return rate(self.settled, self.expected)

    @property
    def confirmed(self) -> bool:
        return self.roster_state in CONFIRMED_STATES


@dataclass
class DistrictCoverage:
    office_id: int
    district: str
    schools: int = 0
    in_school: int = 0
    other_channel: int = 0
    enrolled: int = 0
    settled: int = 0
    insured_elsewhere: int = 0
    followed_up: int = 0
    follow_up_open: int = 0
    confirmed_rosters: int = 0

    @property
    def expected(self) -> int:
        return self.in_school - self.other_channel

    @property
    def rate(self) -> Decimal | None:
        return rate(self.settled + self.insured_elsewhere, self.expected)

    @property
    def school_rate(self) -> Decimal | None:
        return rate(self.settled, self.expected)


def school_coverage(*, insurance_year: InsuranceYear, schools) -> list[SchoolCoverage]:
    """One row per school of ``schools`` (a School queryset, already scoped) in the year's city."""
    schools = schools.filter(office__city_id=insurance_year.city_id, active=True).select_related("office")
    rows = {
        school.pk: SchoolCoverage(
            school_id=school.pk, code=school.code, name=school.name, office_id=school.office_id,
            district=school.office.district,
        )
        for school in schools.order_by("office__code", "code")
    }
    ids = list(rows)
    for row in (
        Student.objects.filter(school_id__in=ids, status=StudentStatus.IN_SCHOOL)
        .values("school_id").annotate(n=Count("pk")).order_by()
    ):
        rows[row["school_id"]].in_school = row["n"]
    registered = Q(status=EnrollmentStatus.REGISTERED)
    on_school = registered & Q(channel=Channel.SCHOOL)
    for row in (
        Enrollment.objects.filter(
            insurance_year=insurance_year, school_id__in=ids,
            student__status=StudentStatus.IN_SCHOOL,
        )
        .filter(student__school_id=F("school_id"))
        .values("school_id")
        .annotate(
            other=Count("pk", filter=registered & ~Q(channel__in=[Channel.SCHOOL, Channel.INSURED_ELSEWHERE])),
            enrolled=Count("pk", filter=on_school),
            settled=Count("pk", filter=on_school & Q(payment_status__in=SETTLED)),
            exempt=Count("pk", filter=on_school & Q(exemption_category__isnull=False)),
            elsewhere=Count("pk", filter=registered & Q(channel=Channel.INSURED_ELSEWHERE)),
            followed=Count("pk", filter=registered & Q(channel__in=FOLLOWED_UP_CHANNELS, other_channel_enrollment__isnull=False)),
            open=Count("pk", filter=registered & Q(channel__in=FOLLOWED_UP_CHANNELS, other_channel_enrollment__isnull=True)),
        )
        .order_by()
    ):
        target = rows[row["school_id"]]
        target.other_channel, target.enrolled = row["other"], row["enrolled"]
        target.settled, target.exempt = row["settled"], row["exempt"]
        target.insured_elsewhere, target.followed_up, target.follow_up_open = row["elsewhere"], row["followed"], row["open"]
    for school_id, state in Roster.objects.filter(insurance_year=insurance_year, school_id__in=ids).values_list("school_id", "state"):
        rows[school_id].roster_state = state
    return list(rows.values())


def district_coverage(rows: list[SchoolCoverage]) -> list[DistrictCoverage]:
    districts: dict[int, DistrictCoverage] = {}
    for row in rows:
        district = districts.setdefault(row.office_id, DistrictCoverage(office_id=row.office_id, district=row.district))
        district.schools += 1
        district.in_school += row.in_school
        district.other_channel += row.other_channel
        district.enrolled += row.enrolled
        district.settled += row.settled
        district.insured_elsewhere += row.insured_elsewhere
        district.followed_up += row.followed_up
        district.follow_up_open += row.follow_up_open
        district.confirmed_rosters += int(row.confirmed)
    return list(districts.values())


def exemptions_by_category(*, insurance_year: InsuranceYear, schools) -> list[tuple[str, int]]:
    return [
        (row["exemption_category__name"], row["n"])
        for row in Enrollment.objects.filter(
            insurance_year=insurance_year, school__in=schools, status=EnrollmentStatus.REGISTERED,
            channel=Channel.SCHOOL, exemption_category__isnull=False,
        )
        .values("exemption_category__name")
        .annotate(n=Count("pk"))
        .order_by("exemption_category__name")
    ]


def amount_collected(*, insurance_year: InsuranceYear, schools) -> Decimal:
    """Money really collected: a paid enrollment's fee less any extra debit still open on it.

    After a fee standard rises, a paid enrollment already carries the new fee while the difference is still
    being debited (``amount_in_progress``); counting it as paid would show money the bank has not moved.
    """
    total = Enrollment.objects.filter(
        insurance_year=insurance_year, school__in=schools, payment_status=PaymentStatus.PAID
    ).aggregate(total=Sum("fee_due"))["total"] or ZERO
    open_on_paid = _open_extra_debits(insurance_year=insurance_year, schools=schools).filter(
        enrollment__payment_status=PaymentStatus.PAID
    ).aggregate(total=Sum("amount"))["total"] or ZERO
    return (total - open_on_paid).quantize(Decimal("0.01"))


def amount_in_progress(*, insurance_year: InsuranceYear, schools) -> Decimal:
    """Extra debits (corrections) raised but not yet collected."""
    total = _open_extra_debits(insurance_year=insurance_year, schools=schools).aggregate(total=Sum("amount"))["total"]
    return (total or ZERO).quantize(Decimal("0.01"))


def _open_extra_debits(*, insurance_year: InsuranceYear, schools):
    return ChargeCorrection.objects.filter(
        enrollment__insurance_year=insurance_year, enrollment__school__in=schools, amount__gt=0,
        state__in=[ChargeCorrection.State.PENDING, ChargeCorrection.State.IN_BILLING],
    )


def lagging_schools(*, insurance_year: InsuranceYear, threshold_percent: int) -> list[SchoolCoverage]:
    """Agent schools with students to enroll that are below the threshold or have no confirmed roster."""
    rows = school_coverage(insurance_year=insurance_year, schools=School.objects.filter(is_agent=True))
    return [row for row in rows if row.expected > 0 and (not row.confirmed or row.rate < threshold_percent)]
