from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Window
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.selectors import school_billing_status
from coordinators import selectors
from coordinators.forms import ConfirmForm, RemoveForm
from coordinators.views.access import coordinator_required, portal_actor
from enrollment.models import Enrollment, RosterState
from enrollment.selectors import roster_counts, supplementary_preview, suspect_reasons, suspected_graduates
from enrollment.services.common import roster_get_or_create
from graduates.selectors import exceptions_for_school


def _roster(request):
    year = selectors.year_for(request.school)
    if year is None:
        return None, None
    roster = roster_get_or_create(school=request.school, insurance_year=year)
    # Already loaded: the page and the services read them from the roster.
    roster.school, roster.insurance_year = request.school, year
    return year, roster


def _roster_parts(*, school, year, roster, which: str, page_number, today) -> dict[str, str]:
    """The page's counts and lists, rendered without the request so they can be cached."""
    counts = roster_counts(roster=roster)
    sizes = selectors.roster_list_sizes(roster=roster, counts=counts, today=today)
    page = selectors.roster_list_page(roster=roster, which=which, sizes=sizes, page_number=page_number, today=today)
    rows = list(page.object_list)
    if which == "suspected":
        for enrollment in rows:
            enrollment.reasons = suspect_reasons(enrollment, school=school, today=today)
    # Graduates the nightly run could not stop: the school removes them by hand before confirming.
    exceptions = list(exceptions_for_school(school=school).annotate(total=Window(Count("pk")))[:20])
    context = {
        "graduate_exceptions": exceptions, "graduate_exception_count": exceptions[0].total if exceptions else 0,
        "year": year, "roster": roster, "counts": counts, "sizes": sizes, "which": which, "page": page, "rows": rows,
        "amount": (year.fee_standard * counts.paying_count).quantize(Decimal("0.01")),
    }
    return {
        "summary": render_to_string("portal/_roster_summary.html", context),
        "lists": render_to_string("portal/_roster_lists.html", context),
        "suspected": sizes["suspected"],
        "removed_count": counts.removed_count,
    }


@coordinator_required
def roster(request):
    year, current = _roster(request)
    if year is None:
        messages.info(request, _("本市尚未设置参保年度。"))
        return redirect("portal:home")
    today = timezone.localdate()
    which = request.GET.get("list")
    if which not in selectors.ROSTER_LISTS:
        which = "paying"
    page_number = request.GET.get("page")
    key = selectors.roster_page_cache_key(roster=current, which=which, page_number=page_number, today=today, language=get_language())
    parts = cache.get(key) if key else None
    if parts is None:
        parts = _roster_parts(school=request.school, year=year, roster=current, which=which, page_number=page_number, today=today)
        if key:
            cache.set(key, parts, settings.ROSTER_PAGE_CACHE_SECONDS)
    settled = current.state != RosterState.OPEN
    return render(request, "portal/roster.html", {
        "summary": mark_safe(parts["summary"]), "lists": mark_safe(parts["lists"]),  # rendered by our own templates above
        "billing": school_billing_status(school=request.school, insurance_year=year) if settled else None,
        "confirmation": current.live_confirmation if settled else None,
        "year": year, "roster": current, "suspected": parts.get("suspected", 0),
        # Read only when the (cached) counts show removed students: a second look at the page stays off the table.
        "removed": selectors.removed_by_hand(roster=current)[:100]
        if current.state == RosterState.OPEN and parts.get("removed_count") else [],
        # Late students (registered after the confirmation) waiting for the supplementary one.
        "late": supplementary_preview(roster=current) if settled else None,
        "supplementary": current.confirmations.filter(supplementary=True, reopened_at__isnull=True).order_by("confirmed_at")
        if settled else [],
    })


@require_POST
@coordinator_required
def roster_confirm(request):
    from enrollment.services.rosters import roster_confirm as confirm

    year, current = _roster(request)
    form = ConfirmForm(request.POST)
    if year is None or not form.is_valid():
        messages.error(request, _("请重新打开名单页面后再确认。"))
        return redirect("portal:roster")
    try:
        confirmation = confirm(
            actor=portal_actor(request), roster=current, checked=form.cleaned_data["checked"],
            expected_version=form.cleaned_data["version"], suspected_acknowledged=form.cleaned_data["suspected_acknowledged"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("名单已确认：缴费%(n)d人，合计%(amount)s元。") % {"n": confirmation.paying_count, "amount": confirmation.total_amount})
    return redirect("portal:roster")


@require_POST
@coordinator_required
def roster_confirm_supplementary(request):
    """The same tick box as the first confirmation, for the students registered after it."""
    from enrollment.services.rosters import roster_confirm_supplementary as confirm

    year, current = _roster(request)
    form = ConfirmForm(request.POST)
    if year is None or not form.is_valid():
        messages.error(request, _("请重新打开名单页面后再确认。"))
        return redirect("portal:roster")
    try:
        confirmation = confirm(
            actor=portal_actor(request), roster=current, checked=form.cleaned_data["checked"],
            expected_version=form.cleaned_data["version"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("迟到学生已补充确认：缴费%(n)d人，合计%(amount)s元，将随下一次扣费或申报缴费。") % {
            "n": confirmation.paying_count, "amount": confirmation.total_amount,
        })
    return redirect("portal:roster")


@coordinator_required
def roster_remove(request, pk):
    """A page that names the student and asks why: removal is never one click."""
    from enrollment.services.enrollments import enrollment_remove

    enrollment = get_object_or_404(
        Enrollment.objects.visible_to(request.user).filter(school=request.school).select_related("student"), pk=pk
    )
    form = RemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrollment_remove(actor=portal_actor(request), enrollment=enrollment, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("已将%(name)s从缴费名单中剔除，可在名单页“已剔除的学生”中恢复。") % {"name": enrollment.student.name})
        return redirect("portal:roster")
    today = timezone.localdate()
    roster = roster_get_or_create(school=request.school, insurance_year=enrollment.insurance_year)
    # The reasons need the evidence the suspect list annotates (the graduate feeds).
    suspect = suspected_graduates(roster=roster, today=today).filter(pk=enrollment.pk).first()
    return render(request, "portal/roster_remove.html", {
        "form": form, "enrollment": enrollment,
        "reasons": suspect_reasons(suspect, school=request.school, today=today) if suspect else [],
    })


@require_POST
@coordinator_required
def roster_restore(request, pk):
    from enrollment.services.enrollments import enrollment_restore

    enrollment = get_object_or_404(
        Enrollment.objects.visible_to(request.user).filter(school=request.school).select_related("student"), pk=pk
    )
    try:
        enrollment_restore(actor=portal_actor(request), enrollment=enrollment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已将%(name)s恢复到参保名单。") % {"name": enrollment.student.name})
    return redirect("portal:roster")
