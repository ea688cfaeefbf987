"""Admin scoping: district staff see and change only their office's schools; city staff their city.

The queryset itself is narrowed (``visible_to``), so changelists, counts,
change pages opened by URL, autocomplete, exports and foreign-key dropdowns
all obey the same rule.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q

from enrollment.querysets import ScopedQuerySet


class ScopedAdminMixin:
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if isinstance(qs, ScopedQuerySet):
            return qs.visible_to(request.user)
        return qs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        manager = related._default_manager
        if hasattr(manager.get_queryset(), "visible_to"):
            kwargs.setdefault("queryset", manager.get_queryset().visible_to(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        # A plain related-field filter offers every row of the related table (every city's insurance
        # years, every office); the offered values are scoped like the list: those its visible rows use.
        return [self._scoped_list_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_list_filter(self, entry):
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except FieldDoesNotExist:
            return entry
        if field.is_relation and not field.one_to_many:
            return (entry, admin.RelatedOnlyFieldListFilter)
        return entry


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


def people_of_city_q(city_id, prefix: str = "") -> Q:
    """Accounts whose membership lies in the city, whatever their role."""
    return (
        Q(**{f"{prefix}membership__city_id": city_id})
        | Q(**{f"{prefix}membership__office__city_id": city_id})
        | Q(**{f"{prefix}membership__school__office__city_id": city_id})
    )


def people_of_office_q(office_id, prefix: str = "") -> Q:
    return Q(**{f"{prefix}membership__office_id": office_id}) | Q(**{f"{prefix}membership__school__office_id": office_id})


def people_visible_to(user, queryset):
    """Accounts a member of staff may pick in a form: their district's or their city's, never a superuser."""
    from enrollment.querysets import membership_of

    if user.is_superuser:
        return queryset
    membership = membership_of(user)
    if membership is not None and membership.role == "district_staff":
        return queryset.filter(people_of_office_q(membership.office_id), is_superuser=False).distinct()
    if membership is not None and membership.role == "city_staff":
        return queryset.filter(people_of_city_q(membership.city_id), is_superuser=False).distinct()
    return queryset.none()
