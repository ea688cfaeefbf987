"""Who may use the portal: a coordinator, on their own school only."""

from functools import wraps

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.http import Http404

from enrollment.querysets import membership_of
from enrollment.services.common import Actor


def school_of(user):
    membership = membership_of(user)
    if membership is None or membership.role != "coordinator" or membership.school_id is None:
        return None
    return membership.school


def portal_actor(request) -> Actor:
    return Actor(user=request.user, source="portal")


def coordinator_required(view):
    """Log-in required; anyone but a coordinator gets 404. Sets ``request.school``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        school = school_of(request.user)
        if school is None:
            raise Http404
        request.school = school
        return view(request, *args, **kwargs)

    return wrapper


class CoordinatorMixin(LoginRequiredMixin):
    """Class-based views: same rule as ``coordinator_required``."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        school = school_of(request.user)
        if school is None:
            raise Http404
        request.school = school
        return super().dispatch(request, *args, **kwargs)
