from django.shortcuts import render

from coordinators import selectors
from coordinators.views.access import coordinator_required


@coordinator_required
def home(request):
    return render(request, "portal/home.html", {"summary": selectors.home_summary(school=request.school)})


@coordinator_required
def contacts(request):
    return render(request, "portal/contacts.html", selectors.contacts(school=request.school))
