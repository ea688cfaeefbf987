"""Access scoping in one place.

Every scoped model names the path to its school in ``scope_school`` ("pk" for
School itself, None for Office). Rules and registers that belong to a city as a
whole (insurance years, exemption categories and the exemption register) name
the path to their city in ``scope_city`` instead: everyone of that city (its
coordinators, district and city staff) sees them, nobody of another city.
``visible_to(user)`` narrows a queryset to what the user's Membership allows,
so portal lists, API lists and details, admin changelists, autocomplete,
counts and exports all share the same rule.
"""

from django.db import models


def scope_paths(model) -> tuple[str | None, str, str]:
    school = getattr(model, "scope_school", None)
    if school is None:
        return None, "pk", "city"
    if school == "pk":
        return "pk", "office", "office__city"
    return school, f"{school}__office", f"{school}__office__city"


def membership_of(user):
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.membership
    except AttributeError:
        return None
    except models.ObjectDoesNotExist:
        return None


def membership_city_id(membership) -> int | None:
    """The city a membership belongs to, whatever its role (None for a system account without a city)."""
    if membership is None:
        return None
    if membership.city_id:
        return membership.city_id
    if membership.office_id:
        return membership.office.city_id
    if membership.school_id:
        return membership.school.office.city_id
    return None


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user is not None and user.is_authenticated and user.is_superuser:
            return self
        membership = membership_of(user)
        if membership is None:
            return self.none()
        city_only = getattr(self.model, "scope_city", None)
        if city_only is not None:
            if membership.role == "system" and membership.system_scope != "read_all":
                return self.none()
            city_id = membership_city_id(membership)
            return self.none() if city_id is None else self.filter(**{city_only: city_id})
        school_path, office_path, city_path = scope_paths(self.model)
        role = membership.role
        if role == "coordinator":
            if school_path is None:
                return self.filter(pk=membership.school.office_id)
            return self.filter(**{school_path: membership.school_id})
        if role == "district_staff":
            return self.filter(**{office_path: membership.office_id})
        if role == "city_staff":
            return self.filter(**{city_path: membership.city_id})
        if role == "system" and membership.system_scope == "read_all" and membership.city_id:
            return self.filter(**{city_path: membership.city_id})
        return self.none()
