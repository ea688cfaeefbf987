"""Bureau staff on the dashboard: a student's coverage by identity number, and reminders to lagging schools.

Both are scoped like the rest of /bureau/: district staff reach their district's schools, city staff their city's.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bureau.views import bureau_actor, selected_year, staff_required, threshold_from, whole_number
from coordinators.forms import CoverageLookupForm
from coordinators.services.reminders import reminders_send_by_staff
from enrollment.models import School
from enrollment.selectors_coverage import coverage_search


@staff_required
def coverage_lookup(request):
    """GET: the form. POST: the coverage of the student with that number among the schools in the staff's scope.

    Outside the scope the answer is the one for a number nobody registered, word for word.
    """
    form = CoverageLookupForm(request.POST or None)
    year = selected_year(request)
    context = {"form": form, "year": year, "searched": False}
    if request.method == "POST" and form.is_valid():
        found = coverage_search(user=request.user, identity_number=form.cleaned_data["identity_number"], insurance_year=year)
        context.update(searched=True, coverage=found)
    return render(request, "bureau/coverage.html", context)


@staff_required
@require_POST
def reminders_send(request):
    """Remind the ticked schools (in scope, of the year's city) now; back to the dashboard with what was sent."""
    year = selected_year(request)
    if year is None:
        raise Http404
    threshold = threshold_from(request.POST)
    ids = [n for n in map(whole_number, request.POST.getlist("school")) if n is not None]
    schools = School.objects.visible_to(request.user).filter(office__city_id=year.city_id, active=True, pk__in=ids)
    back = reverse("bureau:dashboard") + f"?year={year.pk}&threshold={threshold}#reminders"
    if not schools.exists():
        messages.error(request, _("请先勾选要提醒的学校。"))
        return redirect(back)
    sent = reminders_send_by_staff(
        actor=bureau_actor(request), insurance_year=year, schools=schools, threshold_percent=threshold
    )
    messages.success(request, _("已向%(n)d所学校的协管员发送参保提醒。") % {"n": len(sent)})
    return redirect(back)
