"""Admin pages for bureau notices (R18) and the hand-out record of rights records (R17).

District staff publish only to their own office's schools and see the city-wide notices read-only; city staff
address their city, one office or one school. Each notice's page lists the coordinators who have not read it.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from coordinators.models import Handout, Notice
from coordinators.selectors_documents import schools_without_handouts
from coordinators.selectors_notices import notices_visible_to_staff, read_counts, unread_users
from coordinators.services import notices as service
from enrollment.admin.scoping import ScopedModelAdmin
from enrollment.models import City, InsuranceYear, Office, School
from enrollment.querysets import membership_of
from enrollment.services.common import Actor


def admin_actor(request) -> Actor:
    return Actor(user=request.user, source="admin")


class NoticeForm(forms.ModelForm):
    class Meta:
        model = Notice
        fields = ["kind", "title", "body", "city", "office", "school", "published_at"]

    def clean(self):
        data = super().clean()
        try:
            service.resolve_audience(
                user=self.request_user, city=data.get("city"), office=data.get("office"), school=data.get("school")
            )
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc
        return data


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    form = NoticeForm
    list_display = ["title", "kind", "audience", "published_at", "read_progress"]
    list_filter = ["kind"]
    search_fields = ["title"]
    date_hierarchy = "published_at"
    readonly_fields = ["published_by", "unread_list"]

    def get_queryset(self, request):
        return notices_visible_to_staff(request.user).select_related("city", "office", "school", "published_by")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form

    def get_fields(self, request, obj=None):
        fields = ["kind", "title", "body", "city", "office", "school", "published_at"]
        return fields + (["published_by", "unread_list"] if obj else [])

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            membership = membership_of(request.user)
            role = getattr(membership, "role", None)
            if db_field.name == "city":
                city_id = None
                if role == "city_staff":
                    city_id = membership.city_id
                elif role == "district_staff":
                    city_id = membership.office.city_id
                kwargs["queryset"] = City.objects.filter(pk=city_id)
            elif db_field.name == "office":
                kwargs["queryset"] = Office.objects.visible_to(request.user)
            elif db_field.name == "school":
                kwargs["queryset"] = School.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_edit(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        try:
            service.resolve_audience(user=request.user, city=obj.city, office=obj.office, school=obj.school)
        except (PermissionDenied, ValidationError):
            return False
        return True

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {k: data.get(k) for k in ("kind", "title", "body", "city", "office", "school", "published_at")}
        if change:
            saved = service.update_notice(actor=admin_actor(request), notice=obj, **fields)
        else:
            saved = service.publish_notice(actor=admin_actor(request), **fields)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    @admin.display(description=_("发送对象"))
    def audience(self, obj):
        if obj.school_id:
            return obj.school.name
        if obj.office_id:
            return _("%(office)s所属学校") % {"office": obj.office.name}
        if obj.city_id:
            return _("%(city)s全部学校") % {"city": obj.city.name}
        return _("全部学校")

    @admin.display(description=_("已读/应读"))
    def read_progress(self, obj):
        read, total = read_counts(obj)
        return f"{read}/{total}"

    @admin.display(description=_("未读的协管员"))
    def unread_list(self, obj):
        users = list(unread_users(obj)[:500])
        if not users:
            return _("全部协管员均已阅读。")
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}（{}）</li>", ((u.membership.school.name, u.get_username()) for u in users)),
        )


@admin.register(Handout)
class HandoutAdmin(ScopedModelAdmin):
    list_display = ["school", "insurance_year", "class_name", "handed_out_on", "recorded_by"]
    list_filter = ["insurance_year", "handed_out_on"]
    search_fields = ["school__name", "school__code", "class_name"]
    list_select_related = ["school", "insurance_year", "recorded_by"]
    change_list_template = "portal/documents/admin_handout_changelist.html"

    def has_add_permission(self, request):
        # Coordinators record hand-outs in the portal; the bureau only follows them.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("pending/", self.admin_site.admin_view(self.pending_view), name="coordinators_handout_pending"),
        ] + super().get_urls()

    def pending_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        membership = membership_of(request.user)
        years = InsuranceYear.objects.select_related("city").order_by("-window_start")
        if not request.user.is_superuser:
            city_id = getattr(membership, "city_id", None) or getattr(getattr(membership, "office", None), "city_id", None)
            years = years.filter(city_id=city_id)
        raw = request.GET.get("year", "")
        year = years.filter(pk=int(raw)).first() if raw.isdigit() else years.first()
        rows = schools_without_handouts(user=request.user, insurance_year=year) if year else []
        context = {
            **self.admin_site.each_context(request),
            "title": _("未发放权益记录单的学校"),
            "opts": self.model._meta,
            "years": years,
            "year": year,
            "rows": rows,
        }
        return render(request, "portal/documents/admin_handout_pending.html", context)
