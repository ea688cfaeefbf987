"""Bureau pages under /bureau/: the coverage dashboard, school drill-down, report and photo-package jobs.

Staff only; the schools shown are ``School.objects.visible_to(user)``, so
district staff see their office's schools and city staff their city's.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from bureau import reports
from coordinators.models import Coordinator, ReminderSent
from enrollment import coverage
from enrollment.api.permissions import is_bureau_staff
from enrollment.models import (
    CitizenCard,
    Enrollment,
    InsuranceYear,
    Job,
    Office,
    Roster,
    RosterState,
    School,
)
from enrollment.querysets import membership_of
from enrollment.services.common import Actor, current_insurance_year

BAR_WIDTH = 300


def staff_required(view):
    """Log-in required; anyone but bureau staff gets 404, as in the portal."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        if not is_bureau_staff(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def bureau_actor(request) -> Actor:
    return Actor(user=request.user, source="admin")


def visible_years(user):
    cities = Office.objects.visible_to(user).values("city_id")
    return InsuranceYear.objects.filter(city_id__in=cities).select_related("city").order_by("city__code", "-window_start")


def whole_number(raw) -> int | None:
    """A plain ASCII whole number from a request parameter, else None ("²" and "１２" are digits to str.isdigit)."""
    raw = str(raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def selected_year(request) -> InsuranceYear | None:
    years = visible_years(request.user)
    raw = request.GET.get("year") or request.POST.get("year")
    if raw:
        if whole_number(raw) is None:
            raise Http404
        return get_object_or_404(years, pk=raw)
    membership = membership_of(request.user)
    city_id = None
    if membership is not None:
        city_id = membership.city_id or (membership.office.city_id if membership.office_id else None)
    if city_id is None:
        first = years.first()
        city_id = first.city_id if first else None
    return current_insurance_year(city_id=city_id) if city_id else None


def bars(rows, *, label, value):
    """Rows for the server-drawn SVG bar chart: label, percent and the bar's width in pixels."""
    out = []
    for y, row in enumerate(rows):
        percent = value(row)
        width = int(float(percent) * BAR_WIDTH / 100) if percent is not None else 0
        out.append({"label": label(row), "percent": percent, "width": width, "y": y * 24, "text_y": y * 24 + 15,
                    "low": percent is not None and percent < reports_threshold()})
    return out


def reports_threshold() -> int:
    from django.conf import settings

    return settings.LAGGING_COVERAGE_PERCENT


def threshold_from(params) -> int:
    """The completion threshold (percent) staff chose for the lagging list, else the setting's."""
    value = whole_number(params.get("threshold"))
    if value is not None and 1 <= value <= 100:
        return value
    return reports_threshold()


@staff_required
def dashboard(request):
    year = selected_year(request)
    threshold = threshold_from(request.GET)
    context = {"years": visible_years(request.user), "year": year, "threshold": threshold}
    if year is not None:
        schools = School.objects.visible_to(request.user)
        rows = coverage.school_coverage(insurance_year=year, schools=schools)
        districts = coverage.district_coverage(rows)
        lagging = [r for r in rows if r.expected > 0 and (not r.confirmed or r.rate < threshold)]
        context.update(
            rows=rows,
            districts=districts,
            district_bars=bars(districts, label=lambda d: d.district, value=lambda d: d.rate),
            chart_height=max(len(districts), 1) * 24,
            lagging=lagging,
            confirmed_rosters=sum(1 for r in rows if r.confirmed),
            totals=_total(rows),
            exemptions=coverage.exemptions_by_category(insurance_year=year, schools=schools),
            billing=reports.billing_figures(insurance_year=year, schools=schools),
            collected=coverage.amount_collected(insurance_year=year, schools=schools),
            in_progress=coverage.amount_in_progress(insurance_year=year, schools=schools),
            refunds=reports.refunds(insurance_year=year, schools=schools),
            cards_waiting=CitizenCard.objects.visible_to(request.user).filter(state=CitizenCard.State.PHOTO_SUBMITTED).count(),
            jobs=Job.objects.filter(created_by=request.user, kind__in=[Job.Kind.REPORT, Job.Kind.PHOTO_EXPORT])[:5],
            reminders=ReminderSent.objects.filter(insurance_year=year, school__in=schools)
            .select_related("school", "sent_by", "notice").order_by("-sent_at", "-pk")[:30],
        )
    return render(request, "bureau/dashboard.html", context)


def _total(rows):
    total = coverage.SchoolCoverage(school_id=0, code="", name="", office_id=0, district=_("合计"))
    for row in rows:
        total.in_school += row.in_school
        total.other_channel += row.other_channel
        total.enrolled += row.enrolled
        total.settled += row.settled
        total.exempt += row.exempt
        total.insured_elsewhere += row.insured_elsewhere
        total.followed_up += row.followed_up
        total.follow_up_open += row.follow_up_open
    return total


@staff_required
def school_detail(request, pk):
    school = get_object_or_404(School.objects.visible_to(request.user).select_related("office"), pk=pk)
    year = selected_year(request)
    if year is None or year.city_id != school.office.city_id:
        raise Http404
    row = coverage.school_coverage(insurance_year=year, schools=School.objects.filter(pk=school.pk))[0]
    roster = Roster.objects.filter(school=school, insurance_year=year).first()
    enrollments = Enrollment.objects.filter(insurance_year=year, school=school)
    context = {
        "school": school,
        "year": year,
        "row": row,
        "roster": roster,
        "confirmation": roster.live_confirmation if roster and roster.state != RosterState.OPEN else None,
        "unpaid": enrollments.filter(status="registered", channel="school", payment_status__in=["unpaid", "billed"])
        .select_related("student").order_by("student__grade", "student__class_name", "student__name")[:200],
        "exemptions": coverage.exemptions_by_category(insurance_year=year, schools=School.objects.filter(pk=school.pk)),
        "coordinators": _coordinators(school),
        "billing": reports.billing_figures(insurance_year=year, schools=School.objects.filter(pk=school.pk)),
    }
    labels = dict(Enrollment._meta.get_field("payment_status").choices)
    context["by_payment"] = [
        (labels.get(r["payment_status"], r["payment_status"]), r["n"])
        for r in enrollments.values("payment_status").annotate(n=Count("pk")).order_by("payment_status")
    ]
    return render(request, "bureau/school.html", context)


def _coordinators(school):
    return list(Coordinator.objects.filter(school=school, active=True).order_by("name"))


@staff_required
@require_POST
def report_start(request):
    year = selected_year(request)
    if year is None:
        raise Http404
    job = reports.year_end_report_start(actor=bureau_actor(request), insurance_year=year)
    return redirect("bureau:job", pk=job.pk)


@staff_required
@require_POST
def cards_export(request):
    from enrollment.services.cards import cards_export_request

    job = cards_export_request(actor=bureau_actor(request))
    return redirect("bureau:job", pk=job.pk)


# Where the outcome of a finished job is looked at, by kind: the page the clerk goes on to.
JOB_RESULT_PAGES = {
    Job.Kind.BATCH_GENERATION: ("admin:billing_debitbatch_changelist", _lazy("查看扣款批次")),
    Job.Kind.DECLARATION_GENERATION: ("admin:billing_declaration_changelist", _lazy("查看税务申报")),
    Job.Kind.RESULT_IMPORT: ("admin:billing_debitbatch_changelist", _lazy("查看扣款批次")),
    Job.Kind.RECEIPT_IMPORT: ("admin:billing_declaration_changelist", _lazy("查看税务申报")),
    Job.Kind.GRADUATE_RUN: ("admin:graduates_deregistrationrun_changelist", _lazy("查看停保运行记录")),
    Job.Kind.EXEMPTION_IMPORT: ("admin:enrollment_exemption_changelist", _lazy("查看免缴人员")),
}
# Names of the counts jobs leave in their result, as the clerk reads them.
JOB_COUNT_LABELS = {
    "batches": _lazy("批次数"), "declarations": _lazy("申报数"), "instructions_created": _lazy("新建扣款指令"), "instructions": _lazy("扣款指令"),
    "cards": _lazy("照片数"), "created": _lazy("新增"), "updated": _lazy("更新"), "rows": _lazy("行数"),
    "matched": _lazy("匹配"), "stopped": _lazy("已停保"), "exceptions": _lazy("待处理"),
    "feeds": _lazy("处理数据批数"), "records": _lazy("毕业生记录"),
}
# Jobs whose output file the starter downloads from this page.
DOWNLOADABLE = (Job.Kind.REPORT, Job.Kind.PHOTO_EXPORT)


def _own_job(request, pk):
    # Staff jobs mostly have no school: a job belongs to the staff member who started it.
    return get_object_or_404(Job, pk=pk, created_by=request.user)


@staff_required
def job_detail(request, pk):
    job = _own_job(request, pk)
    page = JOB_RESULT_PAGES.get(job.kind)
    result_link = None
    if page is not None and job.state == Job.State.SUCCEEDED:
        result_link = {"url": reverse(page[0]), "label": page[1]}
    counts = []
    for key, value in (job.result or {}).items():
        if key.endswith("_id"):  # a row's id (the run's) is not a count the clerk reads
            continue
        if isinstance(value, list):
            value = len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            counts.append((key, value))
    return render(request, "bureau/job.html", {
        "job": job, "expired": _expired(job), "downloadable": job.kind in DOWNLOADABLE, "result_link": result_link,
        "counts": [(JOB_COUNT_LABELS.get(key, key), value) for key, value in counts],
    })



def _expired(job) -> bool:
    return job.expires_at is not None and job.expires_at < timezone.now()


@staff_required
def job_download(request, pk):
    job = _own_job(request, pk)
    if job.kind not in DOWNLOADABLE or job.state != Job.State.SUCCEEDED or not job.output_file or _expired(job):
        raise Http404
    name = job.output_file.name.rsplit("/", 1)[-1]
    return FileResponse(job.output_file.open("rb"), as_attachment=True, filename=name)
