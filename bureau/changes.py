"""Bureau pages for the changes during the year: transfers to decide, students of other channels to follow up.

Staff only, scoped as the dashboard: district staff see their office's schools, city staff their city's.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bureau.views import bureau_actor, selected_year, staff_required, visible_years
from enrollment.models import Enrollment, Transfer
from enrollment.selectors_changes import follow_ups, transfers_pending_for_staff
from enrollment.services import elsewhere, transfers


@staff_required
def transfer_list(request):
    return render(request, "bureau/transfers.html", {"transfers": transfers_pending_for_staff(user=request.user)[:500]})


def _transfer(request, pk) -> Transfer:
    return get_object_or_404(Transfer.objects.visible_to(request.user), pk=pk)


@require_POST
@staff_required
def transfer_decide(request, pk):
    transfer = _transfer(request, pk)
    try:
        if request.POST.get("decision") == "accept":
            transfer = transfers.transfer_accept(actor=bureau_actor(request), transfer=transfer)
            messages.success(request, _("%(name)s已转入%(school)s。") % {"name": transfer.student.name, "school": transfer.to_school.name}
                             + transfers.transfer_outcome_text(transfer))
        else:
            transfers.transfer_refuse(actor=bureau_actor(request), transfer=transfer, reason=request.POST.get("reason", ""))
            messages.success(request, _("已拒绝该转学申请。"))
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("bureau:transfers")


@staff_required
def follow_up_list(request):
    year = selected_year(request)
    rows = follow_ups(user=request.user, insurance_year=year)[:500] if year is not None else []
    return render(request, "bureau/follow_ups.html", {"year": year, "years": visible_years(request.user), "rows": rows})


def _parse_date(raw: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


@require_POST
@staff_required
def follow_up_record(request, pk):
    enrollment = get_object_or_404(Enrollment.objects.visible_to(request.user), pk=pk)
    try:
        recorded = elsewhere.other_channel_enrollment_record(
            actor=bureau_actor(request), enrollment=enrollment, enrolled_on=_parse_date(request.POST.get("enrolled_on", "")),
            place=request.POST.get("place", ""),
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, _("%(name)s：") % {"name": enrollment.student.name} + " ".join(exc.messages))
    else:
        messages.success(request, _("已登记%(name)s已在%(place)s参保。") % {"name": enrollment.student.name, "place": recorded.place})
    return redirect(reverse("bureau:follow_ups") + f"?year={enrollment.insurance_year_id}")
