"""Who may call what: scoping itself lives in the querysets, these only gate roles and writes."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from enrollment.models import Role
from enrollment.querysets import membership_of

STAFF_ROLES = {Role.DISTRICT_STAFF, Role.CITY_STAFF}


def is_bureau_staff(user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    membership = membership_of(user)
    return membership is not None and membership.role in STAFF_ROLES


def is_system(user) -> bool:
    membership = membership_of(user)
    return membership is not None and membership.role == Role.SYSTEM


class IsBureauStaff(BasePermission):
    """District or city staff (and superusers): the exemption register and card production."""

    def has_permission(self, request, view):
        return is_bureau_staff(request.user)


class SystemReadOnly(BasePermission):
    """A system token reads what it was issued for and never writes through these endpoints."""

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            return False
        if is_system(request.user):
            # A token issued for one job (e.g. posting graduate feeds) is refused here outright,
            # before any input is parsed, so it learns nothing from validation errors either.
            return request.method in SAFE_METHODS and membership_of(request.user).system_scope == "read_all"
        return True


class IsCoordinator(BasePermission):
    """The school itself confirms its roster (R8): only a coordinator, on their own school by scoping."""

    message = _("只有学校协管员可以确认本校参保名单。")

    def has_permission(self, request, view):
        membership = membership_of(request.user)
        return membership is not None and membership.role == Role.COORDINATOR
