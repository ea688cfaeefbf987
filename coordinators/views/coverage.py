"""Coverage lookup in the portal: one of the school's students by full identity number (R13)."""

from django.shortcuts import render

from coordinators import selectors
from coordinators.forms import CoverageLookupForm
from coordinators.views.access import coordinator_required
from enrollment.selectors_coverage import coverage_search


@coordinator_required
def coverage_lookup(request):
    """GET: the form. POST: the answer, for a student of the coordinator's own school only.

    A number of another school answers exactly like a number nobody registered. The number is neither
    logged nor put in the page again (the result shows it masked).
    """
    form = CoverageLookupForm(request.POST or None)
    context = {"form": form, "year": selectors.year_for(request.school), "searched": False}
    if request.method == "POST" and form.is_valid():
        found = coverage_search(user=request.user, identity_number=form.cleaned_data["identity_number"],
                                insurance_year=context["year"])
        if found is not None and found.student.school_id != request.school.pk:
            found = None
        context.update(searched=True, coverage=found)
    return render(request, "portal/coverage.html", context)
