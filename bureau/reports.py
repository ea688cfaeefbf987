"""The bureau's figures across apps: billing on the dashboard, the year-end report to the education authority.

Coverage itself is the core's (``enrollment.coverage``); this module adds what
billing knows (batches, failures, declarations, refunds) and writes the report.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from billing.models import DebitAttempt, DebitBatch, DebitInstruction, Declaration, Refund
from enrollment.coverage import amount_collected, district_coverage, exemptions_by_category, school_coverage
from enrollment.exports import XlsxWriter, register_export
from enrollment.models import ZERO, Enrollment, InsuranceYear, PaymentStatus, RosterState, School


def refunds(*, insurance_year: InsuranceYear, schools) -> tuple[int, Decimal]:
    """Refunds paid back to the schools for this year's enrollments: (count, amount)."""
    row = Refund.objects.filter(
        enrollment__insurance_year=insurance_year, school__in=schools, state=Refund.State.SETTLED
    ).aggregate(n=Count("pk"), total=Sum("amount"))
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
    figures = BillingFigures(available=True)
    batches = DebitBatch.objects.filter(
        insurance_year=insurance_year, attempts__instruction__school__in=schools
    ).distinct()
    figures.batches = batches.count()
    labels = dict(DebitBatch.State.choices)
    for state, n in DebitBatch.objects.filter(pk__in=batches.values("pk")).values_list("state").annotate(n=Count("pk")).order_by():
        figures.batches_by_state[str(labels.get(state, state))] = n
    figures.failures = DebitAttempt.objects.filter(
        batch__insurance_year=insurance_year, instruction__school__in=schools, result=DebitAttempt.Result.FAILED
    ).count()
    figures.flagged = DebitInstruction.objects.filter(
        confirmation__roster__insurance_year=insurance_year, school__in=schools, state=DebitInstruction.State.FLAGGED
    ).count()
    declarations = Declaration.objects.filter(
        confirmation__roster__insurance_year=insurance_year, school__in=schools
    ).exclude(state=Declaration.State.CANCELLED)
    figures.declarations = declarations.count()
    figures.declarations_paid = declarations.filter(
        state__in=[Declaration.State.PAID, Declaration.State.RECEIPTED]
    ).count()
    return figures


def year_end_workbook(*, insurance_year: InsuranceYear, schools) -> bytes:
    """The report to the education authority as .xlsx: coverage per school and district, exemptions, money."""
    rows = school_coverage(insurance_year=insurance_year, schools=schools)
    collected = amount_collected(insurance_year=insurance_year, schools=schools)
    refund_count, refund_total = refunds(insurance_year=insurance_year, schools=schools)
    paid_count = Enrollment.objects.filter(
        insurance_year=insurance_year, school__in=schools, payment_status=PaymentStatus.PAID
    ).count()
    return year_end_write(
        rows=rows, districts=district_coverage(rows),
        exemptions=exemptions_by_category(insurance_year=insurance_year, schools=schools),
        money=(paid_count, collected, refund_count, refund_total),
    )


def year_end_write(*, rows, districts, exemptions, money) -> bytes:
    """The workbook itself, from the figures; every school and category name is written as text, never a formula."""
    writer = XlsxWriter()

    def pct(value):
        return float(value) if value is not None else None

    sheet = writer.sheet(_("学校参保率"))
    sheet.header([_("学校代码"), _("学校名称"), _("所属区"), _("在校学生"), _("其他途径参保"), _("应由学校参保"),
                  _("已登记"), _("已缴费或补助"), _("免缴人数"), _("参保率（%）"), _("名单状态"), _("他处参保（计入参保率）"),
                  _("学校代办参保率（%）"), _("其他途径已确认参保"), _("其他途径待跟进")])
    states = dict(RosterState.choices)
    for row in rows:
        sheet.row([row.code, row.name, row.district, row.in_school, row.other_channel, row.expected, row.enrolled,
                   row.settled, row.exempt, pct(row.rate), states.get(row.roster_state, _("未建名单")), row.insured_elsewhere,
                   pct(row.school_rate), row.followed_up, row.follow_up_open], text=(0, 1, 2))

    sheet = writer.sheet(_("各区参保率"))
    sheet.header([_("所属区"), _("学校数"), _("在校学生"), _("其他途径参保"), _("应由学校参保"), _("已登记"),
                  _("已缴费或补助"), _("参保率（%）"), _("已确认名单"), _("他处参保（计入参保率）"), _("其他途径已确认参保"),
                  _("其他途径待跟进")])
    for district in districts:
        sheet.row([district.district, district.schools, district.in_school, district.other_channel, district.expected,
                   district.enrolled, district.settled, pct(district.rate), district.confirmed_rosters,
                   district.insured_elsewhere, district.followed_up, district.follow_up_open], text=(0,))

    sheet = writer.sheet(_("免缴分类"))
    sheet.header([_("免缴类别"), _("人数")])
    for name, n in exemptions:
        sheet.row([name, n], text=(0,))

    paid_count, collected, refund_count, refund_total = money
    sheet = writer.sheet(_("缴费与退费"))
    sheet.header([_("项目"), _("笔数"), _("金额（元）")])
    sheet.row([_("已缴费"), paid_count, float(collected)])
    sheet.row([_("已退费"), refund_count, float(refund_total)])
    sheet.row([_("实收（缴费减退费）"), None, float(collected - refund_total)])
    return writer.save()


def _probe_year_end(text: str) -> bytes:
    school = SimpleNamespace(code=text, name=text, district=text, in_school=1, other_channel=0, expected=1, enrolled=1,
                             settled=1, exempt=0, insured_elsewhere=0, rate=Decimal("100"), school_rate=Decimal("100"),
                             followed_up=0, follow_up_open=0, roster_state=text)
    district = SimpleNamespace(district=text, schools=1, in_school=1, other_channel=0, expected=1, enrolled=1, settled=1,
                               insured_elsewhere=0, rate=Decimal("100"), followed_up=0, follow_up_open=0, confirmed_rosters=1)
    return year_end_write(rows=[school], districts=[district], exemptions=[(text, 1)], money=(1, ZERO, 0, ZERO))


register_export("year_end_report", kind="xlsx", probe=_probe_year_end)


# --- The year-end report as a background job -------------------------------


def year_end_report_start(*, actor, insurance_year: InsuranceYear):
    """Create the report job for the user's scope; the workbook is written by a task after commit."""
    from django.db import transaction

    from bureau.tasks import year_end_report_task
    from enrollment.models import Job
    from enrollment.services.jobs import job_create

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
    # Staged; in place only once the job's row says succeeded.
    job_succeed_with_file(
        job=job, file_name=f"year-end-{job.insurance_year.label}-{now:%Y%m%d%H%M%S}.xlsx", content=ContentFile(content),
        expires_at=now + datetime.timedelta(days=30),
    )
