"""Coverage monitoring (R15): rates per school and district, the bureau dashboard's figures, the year-end report.

Coverage rate of a school for a year: of its students in school who should
enroll through it (those routed to another channel are someone else's to
enroll), how many have a registered school enrollment that is paid or fully
subsidised. Reminders, the dashboard and the report all read these functions,
so the three always show the same figure.

Billing's tables are read through ``apps.get_model`` and guarded: the core does
not import the billing app and runs without it.
"""

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import FieldError
from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from enrollment.models import (
    ZERO,
    Channel,
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
    roster_state: str = ""

    @property
    def expected(self) -> int:
        return self.in_school - self.other_channel

    @property
    def rate(self) -> Decimal | None:
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
    confirmed_rosters: int = 0

    @property
    def expected(self) -> int:
        return self.in_school - self.other_channel

    @property
    def rate(self) -> Decimal | None:
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
            other=Count("pk", filter=registered & ~Q(channel=Channel.SCHOOL)),
            enrolled=Count("pk", filter=on_school),
            settled=Count("pk", filter=on_school & Q(payment_status__in=SETTLED)),
            exempt=Count("pk", filter=on_school & Q(exemption_category__isnull=False)),
        )
        .order_by()
    ):
        target = rows[row["school_id"]]
        target.other_channel, target.enrolled = row["other"], row["enrolled"]
        target.settled, target.exempt = row["settled"], row["exempt"]
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
    total = Enrollment.objects.filter(
        insurance_year=insurance_year, school__in=schools, payment_status=PaymentStatus.PAID
    ).aggregate(total=Sum("fee_due"))["total"]
    return (total or ZERO).quantize(Decimal("0.01"))


def _billing_model(name: str):
    try:
        return apps.get_model("billing", name)
    except LookupError:
        return None


def refunds(*, insurance_year: InsuranceYear, schools) -> tuple[int, Decimal]:
    """Refunds paid back to the schools for this year's enrollments: (count, amount)."""
    model = _billing_model("Refund")
    if model is None:
        return 0, ZERO
    try:
        row = model.objects.filter(
            enrollment__insurance_year=insurance_year, school__in=schools, state="settled"
        ).aggregate(n=Count("pk"), total=Sum("amount"))
    except FieldError:
        return 0, ZERO
    return row["n"], (row["total"] or ZERO).quantize(Decimal("0.01"))


@dataclass
class BillingFigures:
    available: bool = False
    batches: int = 0
    batches_by_state: dict = field(default_factory=dict)
    failures: int = 0
    flagged: int = 0
    declarations: int = 0
    declarations_paid: int = 0


def billing_figures(*, insurance_year: InsuranceYear, schools) -> BillingFigures:
    figures = BillingFigures()
    batch_model = _billing_model("DebitBatch")
    instruction_model = _billing_model("DebitInstruction")
    attempt_model = _billing_model("DebitAttempt")
    declaration_model = _billing_model("Declaration")
    if batch_model is None:
        return figures
    try:
        batches = batch_model.objects.filter(
            insurance_year=insurance_year, attempts__instruction__school__in=schools
        ).distinct()
        figures.batches = batches.count()
        labels = dict(batch_model._meta.get_field("state").choices)
        for state, n in batch_model.objects.filter(pk__in=batches.values("pk")).values_list("state").annotate(n=Count("pk")).order_by():
            figures.batches_by_state[str(labels.get(state, state))] = n
        if attempt_model is not None:
            figures.failures = attempt_model.objects.filter(
                batch__insurance_year=insurance_year, instruction__school__in=schools, result="failed"
            ).count()
        if instruction_model is not None:
            figures.flagged = instruction_model.objects.filter(
                confirmation__roster__insurance_year=insurance_year, school__in=schools, state="flagged"
            ).count()
        if declaration_model is not None:
            declarations = declaration_model.objects.filter(
                confirmation__roster__insurance_year=insurance_year, school__in=schools
            ).exclude(state="cancelled")
            figures.declarations = declarations.count()
            figures.declarations_paid = declarations.filter(state__in=["paid", "receipted"]).count()
    except FieldError:
        return BillingFigures()
    figures.available = True
    return figures


def year_end_workbook(*, insurance_year: InsuranceYear, schools) -> bytes:
    """The report to the education authority as .xlsx: coverage per school and district, exemptions, money."""
    from openpyxl import Workbook

    rows = school_coverage(insurance_year=insurance_year, schools=schools)
    workbook = Workbook(write_only=True)

    def pct(value):
        return float(value) if value is not None else None

    sheet = workbook.create_sheet(_("学校参保率"))
    sheet.append([_("学校代码"), _("学校名称"), _("所属区"), _("在校学生"), _("其他途径参保"), _("应由学校参保"),
                  _("已登记"), _("已缴费或补助"), _("免缴人数"), _("参保率（%）"), _("名单状态")])
    states = dict(RosterState.choices)
    for row in rows:
        sheet.append([row.code, row.name, row.district, row.in_school, row.other_channel, row.expected, row.enrolled,
                      row.settled, row.exempt, pct(row.rate), str(states.get(row.roster_state, _("未建名单")))])

    sheet = workbook.create_sheet(_("各区参保率"))
    sheet.append([_("所属区"), _("学校数"), _("在校学生"), _("其他途径参保"), _("应由学校参保"), _("已登记"),
                  _("已缴费或补助"), _("参保率（%）"), _("已确认名单")])
    for district in district_coverage(rows):
        sheet.append([district.district, district.schools, district.in_school, district.other_channel, district.expected,
                      district.enrolled, district.settled, pct(district.rate), district.confirmed_rosters])

    sheet = workbook.create_sheet(_("免缴分类"))
    sheet.append([_("免缴类别"), _("人数")])
    for name, n in exemptions_by_category(insurance_year=insurance_year, schools=schools):
        sheet.append([name, n])

    collected = amount_collected(insurance_year=insurance_year, schools=schools)
    refund_count, refund_total = refunds(insurance_year=insurance_year, schools=schools)
    sheet = workbook.create_sheet(_("缴费与退费"))
    sheet.append([_("项目"), _("笔数"), _("金额（元）")])
    paid_count = Enrollment.objects.filter(
        insurance_year=insurance_year, school__in=schools, payment_status=PaymentStatus.PAID
    ).count()
    sheet.append([_("已缴费"), paid_count, float(collected)])
    sheet.append([_("已退费"), refund_count, float(refund_total)])
    sheet.append([_("实收（缴费减退费）"), None, float(collected - refund_total)])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def lagging_schools(*, insurance_year: InsuranceYear, threshold_percent: int) -> list[SchoolCoverage]:
    """Agent schools with students to enroll that are below the threshold or have no confirmed roster."""
    rows = school_coverage(insurance_year=insurance_year, schools=School.objects.filter(is_agent=True))
    return [row for row in rows if row.expected > 0 and (not row.confirmed or row.rate < threshold_percent)]





# --- The year-end report as a background job -------------------------------


def year_end_report_start(*, actor, insurance_year: InsuranceYear):
    """Create the report job for the user's scope; the workbook is written by a task after commit."""
    from django.db import transaction

    from enrollment.models import Job
    from enrollment.services.jobs import job_create
    from enrollment.tasks.reports import year_end_report_task

    with transaction.atomic():
        return job_create(
            kind=Job.Kind.REPORT, task=year_end_report_task, created_by=actor.user, insurance_year=insurance_year,
            params={"report": "year_end"},
        )


def year_end_report_run(*, job_id: int):
    """Write the report of a pending REPORT job now. A second delivery finds the job claimed and does nothing."""
    from enrollment.models import Job
    from enrollment.services.jobs import job_execute

    return job_execute(job_id=job_id, body=year_end_report_body) or Job.objects.get(pk=job_id)


def year_end_report_body(job):
    import datetime

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from enrollment.services.jobs import job_succeed_with_file

    schools = School.objects.visible_to(job.created_by)
    content = year_end_workbook(insurance_year=job.insurance_year, schools=schools)
    now = timezone.now()
    job_succeed_with_file(
        job=job, file_name=f"year-end-{job.insurance_year.label}-{now:%Y%m%d%H%M%S}.xlsx", content=ContentFile(content),
        expires_at=now + datetime.timedelta(days=30),
    )
