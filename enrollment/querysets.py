"""Access scoping in one place.

Every scoped model names the path to its school in ``scope_school`` ("pk" for
School itself, None for Office). ``visible_to(user)`` narrows a queryset to
what the user's Membership allows, so portal lists, API lists and details,
admin changelists, autocomplete, counts and exports all share the same rule.
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


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user is not None and user.is_authenticated and user.is_superuser:
            return self
        membership = membership_of(user)
        if membership is None:
            return self.none()
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
