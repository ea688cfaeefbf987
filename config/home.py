"""The site's front page: each kind of user lands where their work is."""

from django.shortcuts import redirect

from coordinators.views.home import home as portal_home
from enrollment.api.permissions import is_bureau_staff


def home(request):
    """Bureau staff go to their dashboard; coordinators (and the log-in page for others) stay with the portal."""
    if is_bureau_staff(request.user):
        return redirect("bureau:dashboard")
    return portal_home(request)
