"""The coordinator's page of graduates: exceptions to remove by hand before confirming, and those stopped."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from enrollment.models import School
from enrollment.querysets import membership_of
from graduates import selectors


def _own_school_or_404(user, school_id: int) -> School:
    """Only the school's own coordinator: anyone else (another school, staff) gets 404, not a hint."""
    membership = membership_of(user)
    if membership is None or membership.role != "coordinator" or membership.school_id != school_id:
        raise Http404
    return get_object_or_404(School.objects.visible_to(user), pk=school_id)


@login_required
def my_exceptions(request):
    membership = membership_of(request.user)
    if membership is None or membership.role != "coordinator":
        raise Http404
    return redirect("graduates:school-exceptions", school_id=membership.school_id)


@login_required
def school_exceptions(request, school_id: int):
    school = _own_school_or_404(request.user, school_id)
    return render(
        request,
        "graduates/exceptions.html",
        {
            "school": school,
            "exceptions": selectors.exceptions_for_school(school=school)[:1000],
            "stopped": selectors.stopped_for_school(school=school)[:1000],
        },
    )
