"""Admin pages of the enrollment rules: exemption register, enrollments, rosters and their confirmations,
charge corrections, the audit trail and the personal-data access log.

Pages only parse input, check access and call one service; the services hold
the rules (window, roster lock, audit), so the admin cannot do what the portal
may not. Audit and access logs are read-only for everybody.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enrollment import identity
from enrollment.admin.scoping import ScopedModelAdmin, people_of_city_q, people_of_office_q
from enrollment.changes import change_text, model_named
from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    City,
    ConfirmationLine,
    Enrollment,
    Exemption,
    ExemptionSource,
    InsuranceYear,
    PersonalDataAccess,
    Role,
    Roster,
    RosterConfirmation,
)
from enrollment.querysets import membership_of
from enrollment.selectors import roster_preview
from enrollment.services.common import Actor
from enrollment.services.exemptions import exemption_letter_register, exemptions_import
from enrollment.services.fees import fee_standard_publish
from enrollment.services.rosters import roster_reopen

FORM_TEMPLATE = "admin/enrollment/form_page.html"


def admin_actor(request) -> Actor:
    return Actor(user=request.user, source=AuditEvent.Source.ADMIN)


def error_text(exc: ValidationError) -> str:
    return "；".join(exc.messages)


def is_city_staff(user) -> bool:
    if user.is_superuser:
        return True
    membership = membership_of(user)
    return membership is not None and membership.role == Role.CITY_STAFF


def form_page(modeladmin, request, *, title, form, intro="", objects=(), action_name="", report=(), multipart=False, submit_label=""):
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": opts,
        "changelist_url_name": f"admin:{opts.app_label}_{opts.model_name}_changelist",
        "title": title,
        "form": form,
        "intro": intro,
        "objects": list(objects),
        "action_name": action_name,
        "report": report,
        "multipart": multipart,
        "submit_label": submit_label,
    }
    return TemplateResponse(request, FORM_TEMPLATE, context)


class ReadOnlyMixin:
    """Records written only by services: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Exemption register (R7) -------------------------------------------------


class CityChoiceForm(forms.Form):
    """The register belongs to a city: staff keep their own city's, a superuser picks one."""

    city = forms.ModelChoiceField(queryset=City.objects.none(), label=gettext_lazy("城市"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        cities = list(City.objects.visible_to(user))
        self.fields["city"].queryset = City.objects.filter(pk__in=[c.pk for c in cities])
        self._only_city = cities[0] if len(cities) == 1 else None
        if self._only_city is not None:
            # Staff keep their own city's register: nothing to choose.
            self.fields["city"].required = False
            self.fields["city"].initial = self._only_city.pk
            self.fields["city"].widget = forms.HiddenInput()

    def clean_city(self):
        return self.cleaned_data.get("city") or self._only_city


class ExemptionImportForm(CityChoiceForm):
    source = forms.ChoiceField(
        label=gettext_lazy("数据来源"),
        choices=[(k, v) for k, v in ExemptionSource.choices if k != ExemptionSource.CONFIRMATION_LETTER],
    )
    upload = forms.FileField(label=gettext_lazy("名单文件（.xlsx或.csv）"))


class ExemptionLetterForm(CityChoiceForm):
    identity_number = forms.CharField(label=gettext_lazy("身份证号码"), max_length=30)
    name = forms.CharField(label=gettext_lazy("姓名"), max_length=50)
    valid_from = forms.DateField(label=gettext_lazy("有效期起"), help_text=gettext_lazy("格式：2019-09-01"))
    valid_to = forms.DateField(label=gettext_lazy("有效期止"), required=False)
    letter = forms.FileField(label=gettext_lazy("盖章确认函（PDF或JPEG）"))


@admin.register(Exemption)
class ExemptionAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["masked_identity", "name", "category", "source", "valid_from", "valid_to", "entered_by", "updated_at"]
    list_filter = [("category", admin.RelatedOnlyFieldListFilter), "source"]
    search_fields = ["=identity_number", "name"]
    search_help_text = gettext_lazy("按姓名或完整的身份证号码查找")
    list_select_related = ["category", "entered_by"]
    readonly_fields = ["masked_identity", "name", "category", "source", "valid_from", "valid_to", "evidence_name",
                       "entered_by", "created_at", "updated_at"]
    fields = readonly_fields
    change_list_template = "admin/enrollment/exemption/change_list.html"

    @admin.display(description=gettext_lazy("身份证号码"), ordering="identity_number")
    def masked_identity(self, obj):
        return identity.mask(obj.identity_number)

    @admin.display(description=gettext_lazy("证明材料"))
    def evidence_name(self, obj):
        return _("已上传") if obj.evidence else "—"

    def get_search_results(self, request, queryset, search_term):
        normalized = identity.normalize(search_term)
        if len(normalized) == 18 and normalized[:17].isdigit():
            search_term = normalized
        return super().get_search_results(request, queryset, search_term)

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("enrollment.add_exemption")

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="enrollment_exemption_import"),
            path("letter/", self.admin_site.admin_view(self.letter_view), name="enrollment_exemption_letter"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ExemptionImportForm(request.POST or None, request.FILES or None, user=request.user)
        report = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["upload"]
            result = exemptions_import(
                actor=admin_actor(request), source=form.cleaned_data["source"], rows=upload, file_name=upload.name,
                city_id=form.cleaned_data["city"].pk,
            )
            if result.ok:
                self.message_user(request, _(
                    "免缴名单已导入：新增%(created)s条，更新%(updated)s条，无变化%(unchanged)s条，其中已过期%(expired)s条；"
                    "已更新待确认名单%(refreshed)s人，已确认名单%(lines)s人，产生退费%(refunds)s笔。"
                ) % {
                    "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                    "expired": result.expired, "refreshed": result.applied.get("refreshed", 0),
                    "lines": result.applied.get("snapshot_lines", 0), "refunds": result.applied.get("refunds", 0),
                }, messages.SUCCESS)
                for note in result.notes[:50]:
                    messages.warning(request, _("第%(row)s行：%(message)s") % {"row": note.row, "message": note.message})
                if len(result.notes) > 50:
                    messages.warning(request, _("另有%(n)s行未予免缴，原因同上。") % {"n": len(result.notes) - 50})
                return redirect("admin:enrollment_exemption_changelist")
            report = result.errors
            messages.error(request, _("文件%(file)s有错误，未导入任何数据，请按下列错误修改后重新上传。") % {"file": upload.name})
        return form_page(
            self, request, title=_("导入免缴名单"), form=form, report=report, multipart=True, submit_label=_("导入"),
            intro=_("文件须包含列：身份证号码、免缴类别（名称或代码）、有效期起；姓名、有效期止可选。"
                    "CSV请使用UTF-8或GBK编码。有任何一行错误时不导入任何数据；重复导入同一来源的名单会更新原记录。"),
        )

    def letter_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ExemptionLetterForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                exemption_letter_register(
                    actor=admin_actor(request), identity_number=data["identity_number"], name=data["name"],
                    valid_from=data["valid_from"], valid_to=data["valid_to"], letter=data["letter"],
                    city_id=data["city"].pk,
                )
            except ValidationError as exc:
                for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                self.message_user(request, _("确认函已录入免缴人员数据库。"), messages.SUCCESS)
                return redirect("admin:enrollment_exemption_changelist")
        return form_page(
            self, request, title=_("录入大学生医疗救助资格审核确认函"), form=form, multipart=True, submit_label=_("录入"),
            intro=_("非本市户籍在苏就读的低保大学生：录入经市民政局盖章的《大学生医疗救助资格审核确认函》后方可免缴。"),
        )


# --- Enrollments -------------------------------------------------------------


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["student_name", "masked_identity", "school", "insurance_year", "channel", "status", "fee_due",
                    "exemption_category", "payment_status"]
    list_filter = ["insurance_year", "channel", "status", "payment_status", "exemption_category",
                   ("school", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=student__identity_number", "student__name"]
    list_select_related = ["student", "school", "insurance_year__city", "exemption_category"]
    readonly_fields = ["student_name", "masked_identity", "school", "insurance_year", "channel", "channel_reason", "status",
                       "status_reason", "fee_due", "exemption_category", "payment_status", "paid_at", "receipt_number",
                       "created_at", "updated_at", "history_link"]
    fields = readonly_fields

    @admin.display(description=gettext_lazy("姓名"), ordering="student__name")
    def student_name(self, obj):
        return obj.student.name

    @admin.display(description=gettext_lazy("身份证号码"))
    def masked_identity(self, obj):
        return identity.mask(obj.student.identity_number)

    @admin.display(description=gettext_lazy("操作记录"))
    def history_link(self, obj):
        url = reverse("admin:enrollment_auditevent_changelist") + f"?student__id__exact={obj.student_id}"
        return format_html('<a href="{}">{}</a>', url, _("查看该学生的操作记录"))

    def get_search_results(self, request, queryset, search_term):
        normalized = identity.normalize(search_term)
        if len(normalized) == 18 and normalized[:17].isdigit():
            search_term = normalized
        return super().get_search_results(request, queryset, search_term)


# --- Rosters and confirmations (R8) ------------------------------------------


class ReopenForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("退回原因"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.action(description=gettext_lazy("退回名单"), permissions=["change"])
def reopen_rosters(modeladmin, request, queryset):
    rosters = list(queryset.select_related("school__office", "insurance_year__city"))
    today = timezone.localdate()
    closed = [r for r in rosters if not r.insurance_year.accepts_changes(today)]
    if closed:
        for roster in closed:
            year = roster.insurance_year
            modeladmin.message_user(request, _(
                "%(roster)s：%(year)s申报缴费期为%(start)s至%(end)s，当前不在申报缴费期内，不能退回名单。"
            ) % {"roster": roster, "year": year, "start": year.window_start.isoformat(), "end": year.window_end.isoformat()},
                messages.ERROR)
        return None
    form = ReopenForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done = 0
        for roster in rosters:
            try:
                roster_reopen(actor=admin_actor(request), roster=roster, reason=form.cleaned_data["reason"])
                done += 1
            except PermissionDenied:
                modeladmin.message_user(request, _("%(roster)s：无权退回该名单。") % {"roster": roster}, messages.ERROR)
            except ValidationError as exc:
                modeladmin.message_user(request, f"{roster}：{error_text(exc)}", messages.ERROR)
        if done:
            modeladmin.message_user(request, _("已退回%(n)s份名单，学校可修改后重新确认。") % {"n": done}, messages.SUCCESS)
        return None
    return form_page(
        modeladmin, request, title=_("退回名单"), form=form, objects=rosters, action_name="reopen_rosters",
        submit_label=_("确认退回"),
        intro=_("退回后原确认记录作废，学校可修改名单后重新确认。已扣费或申报的名单不能退回。请填写退回原因："),
    )


@admin.register(Roster)
class RosterAdmin(ScopedModelAdmin):
    list_display = ["school", "insurance_year", "state", "version", "updated_at"]
    list_filter = ["state", "insurance_year", ("school__office", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["school__name", "school__code"]
    list_select_related = ["school", "insurance_year__city"]
    actions = [reopen_rosters]
    readonly_fields = ["school", "insurance_year", "state", "version", "updated_at", "preview", "history_link"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("名单预览"))
    def preview(self, obj):
        p = roster_preview(roster=obj)
        rows = [
            (_("缴费人数"), p.paying_count),
            (_("缴费标准（元/人）"), f"{p.fee_standard}" + (_("（暂定）") if p.fee_provisional else "")),
            (_("应缴总额（元）"), p.amount),
            (_("免缴人数"), p.exempt_count),
        ]
        rows += [(_("免缴：%(c)s") % {"c": name}, n) for name, n in p.exempt_by_category.items()]
        rows += [(_("其他途径：%(c)s") % {"c": name}, n) for name, n in p.other_channels.items()]
        rows += [
            (_("转入前已在原学校缴费（不再缴费）"), p.paid_before_transfer),
            (_("已剔除/停保"), p.removed_count),
            (_("疑似毕业生仍在名单"), len(p.suspected_graduates)),
            (_("本校学生在其他学校登记"), len(p.at_other_school)),
            (_("上一年度在本校参保、本年度未在名单"), len(p.removed_since_last_year)),
        ]
        table = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((label, value) for label, value in rows))
        suspects = format_html_join(
            "", "<li>{} {}年级{}：{}</li>",
            ((s.name, s.grade, s.class_name, "、".join(s.reasons)) for s in p.suspected_graduates[:50]),
        )
        return format_html("<table>{}</table><ul>{}</ul>", table, suspects)

    @admin.display(description=gettext_lazy("操作记录"))
    def history_link(self, obj):
        url = reverse("admin:enrollment_auditevent_changelist") + f"?roster__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("查看该名单的操作记录"))

    def get_actions(self, request):
        actions = super().get_actions(request)
        membership = membership_of(request.user)
        if not request.user.is_superuser and (membership is None or membership.role == Role.COORDINATOR):
            actions.pop("reopen_rosters", None)
        return actions


class ConfirmationLineInline(admin.TabularInline):
    model = ConfirmationLine
    extra = 0
    can_delete = False
    fields = ["student_name", "fee", "exemption_category"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("enrollment__student", "exemption_category")

    @admin.display(description=gettext_lazy("学生"))
    def student_name(self, obj):
        return obj.enrollment.student.name


@admin.register(RosterConfirmation)
class RosterConfirmationAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["roster", "supplementary", "confirmed_by", "confirmed_at", "paying_count", "exempt_count", "total_amount",
                    "fee_standard", "fee_provisional", "reopened_at"]
    list_filter = ["roster__insurance_year", "supplementary", "fee_provisional", ("reopened_at", admin.EmptyFieldListFilter)]
    search_fields = ["roster__school__name"]
    list_select_related = ["roster__school", "roster__insurance_year", "confirmed_by"]
    readonly_fields = ["roster", "supplementary", "confirmed_by", "confirmed_at", "roster_version", "fee_standard", "fee_provisional",
                       "paying_count", "exempt_count", "total_amount", "reopened_at", "reopened_by", "reopen_reason"]
    fields = readonly_fields
    inlines = [ConfirmationLineInline]


@admin.register(ChargeCorrection)
class ChargeCorrectionAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["student_name", "school", "amount", "reason", "state", "detail", "created_at"]
    list_filter = ["reason", "state", "enrollment__insurance_year"]
    search_fields = ["enrollment__student__name", "=enrollment__student__identity_number"]
    list_select_related = ["enrollment__student", "enrollment__school"]
    readonly_fields = ["enrollment", "amount", "reason", "state", "detail", "created_at"]
    fields = readonly_fields

    @admin.display(description=gettext_lazy("学生"))
    def student_name(self, obj):
        return obj.enrollment.student.name

    @admin.display(description=gettext_lazy("学校"))
    def school(self, obj):
        return obj.enrollment.school.name


# --- Audit trail and personal-data access log --------------------------------


class AuditModelFilter(admin.SimpleListFilter):
    """The audit trail's object types by their names, not the stored model names."""

    title = gettext_lazy("对象类型")
    parameter_name = "model"

    def lookups(self, request, model_admin):
        names = model_admin.get_queryset(request).order_by().values_list("model", flat=True).distinct()
        shown = []
        for name in names:
            model = model_named(name)
            shown.append((name, model._meta.verbose_name if model is not None else name))
        return sorted(shown, key=lambda item: str(item[1]))

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["at", "actor_label", "source", "action", "model_read", "object_id", "school", "student", "roster", "note"]
    list_filter = [AuditModelFilter, "source", "action", ("school", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["actor_label", "action", "note"]
    list_select_related = ["school", "student", "roster__school", "roster__insurance_year"]
    date_hierarchy = "at"
    readonly_fields = ["at", "actor", "actor_label", "source", "action", "model_read", "object_id", "school", "student",
                       "roster", "changes_read", "note"]
    fields = readonly_fields

    @admin.display(description=gettext_lazy("对象类型"), ordering="model")
    def model_read(self, obj):
        model = model_named(obj.model)
        return model._meta.verbose_name if model is not None else obj.model

    @admin.display(description=gettext_lazy("变更内容"))
    def changes_read(self, obj):
        # "字段：原值 → 新值" per line with the fields' names, not the stored JSON.
        return linebreaksbr(change_text(model_named(obj.model), obj.changes))

    def lookup_allowed(self, lookup, value, request=None):
        # The student and roster history links filter on these.
        if lookup in {"student__id__exact", "roster__id__exact"}:
            return True
        return super().lookup_allowed(lookup, value, request)


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "user", "action", "target", "record_count", "ip_address"]
    list_filter = ["action"]
    search_fields = ["user__username", "target"]
    date_hierarchy = "at"
    readonly_fields = list_display
    fields = list_display

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and super().has_view_permission(request, obj)

    def get_queryset(self, request):
        # The log has no school: it is scoped by the city of the account that looked (PIPL: a city audits its own).
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        membership = membership_of(request.user)
        if membership is None or membership.role not in (Role.CITY_STAFF, Role.DISTRICT_STAFF):
            return qs.none()
        if membership.role == Role.DISTRICT_STAFF:
            return qs.filter(people_of_office_q(membership.office_id, "user__"))
        return qs.filter(people_of_city_q(membership.city_id, "user__"))


# --- Final fee standard (R2) ------------------------------------------------


class FeeStandardForm(forms.Form):
    fee_standard = forms.DecimalField(
        label=gettext_lazy("正式缴费标准（元/人）"), max_digits=8, decimal_places=2, min_value=Decimal("0")
    )


@admin.action(description=gettext_lazy("公布正式缴费标准并重算"), permissions=["change"])
def publish_final_fee_standard(modeladmin, request, queryset):
    """Admin action for InsuranceYear: asks for the final standard, then calls ``fee_standard_publish``."""
    if not is_city_staff(request.user):
        modeladmin.message_user(request, _("只有市经办人员可以公布缴费标准。"), messages.ERROR)
        return None
    years = list(queryset.select_related("city"))
    if len(years) != 1:
        modeladmin.message_user(request, _("请只选择一个参保年度。"), messages.ERROR)
        return None
    year = years[0]
    form = FeeStandardForm(request.POST if "apply" in request.POST else None, initial={"fee_standard": year.fee_standard})
    if form.is_bound and form.is_valid():
        try:
            counts = fee_standard_publish(
                actor=admin_actor(request), insurance_year=year, fee_standard=form.cleaned_data["fee_standard"]
            )
        except (ValidationError, InvalidOperation) as exc:
            modeladmin.message_user(request, error_text(exc) if isinstance(exc, ValidationError) else str(exc), messages.ERROR)
            return None
        modeladmin.message_user(request, _(
            "%(year)s缴费标准已定为%(fee)s元：重算%(enrollments)s人的应缴金额、%(lines)s条已确认明细，产生费用调整%(corrections)s笔。"
        ) % {"year": year, "fee": counts["fee_standard"], "enrollments": counts.get("enrollments", 0),
             "lines": counts.get("lines", 0), "corrections": counts.get("corrections", 0)}, messages.SUCCESS)
        return None
    return form_page(
        modeladmin, request, title=_("公布正式缴费标准"), form=form, objects=years, action_name="publish_final_fee_standard",
        submit_label=_("公布"),
        intro=_("公布后暂定标准失效：未扣费的名单按正式标准重算（已确认名单的明细一并重算），已扣费的名单按差额产生补扣或退费。"),
    )


def _wire_year_action():
    """Offer the action on the InsuranceYear page, whose admin is registered in ``reference``."""
    year_admin = admin.site._registry.get(InsuranceYear)
    if year_admin is None:
        return
    actions = list(year_admin.actions or [])
    if publish_final_fee_standard not in actions:
        year_admin.actions = [*actions, publish_final_fee_standard]


_wire_year_action()
