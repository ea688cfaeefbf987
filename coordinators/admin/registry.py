"""Bureau side of the coordinator registry (R4) and of student imports (R5).

Coordinators with their history; schools with no active coordinator (late
once the year's deadline has passed); the annex 2 list per office as Excel;
and a student import for bureau staff. All scoped with ``visible_to``.
"""

from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from coordinators import selectors
from coordinators.models import Coordinator, CoordinatorChange
from coordinators.services.registry import (
    FIELDS,
    coordinator_deactivate,
    coordinator_register,
    coordinator_update,
)
from enrollment.admin.scoping import ScopedModelAdmin, people_visible_to
from enrollment.exports import XlsxWriter, register_export
from enrollment.lockout import login_unlock
from enrollment.models import AuditEvent, Job, Office, School
from enrollment.services.common import Actor, current_insurance_year
from enrollment.services.students import MODE_PARTIAL, MODE_STRICT, student_import_start

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def annex2_workbook(offices) -> bytes:
    """Annex 2: per office (name, coordinators) a sheet listing its schools' active coordinators."""
    writer = XlsxWriter()
    header = [_("序号"), _("学校名称"), _("姓名"), _("性别"), _("工作部门"), _("职务"), _("工作电话"), _("手机号码")]
    for office_name, coordinators in offices:
        sheet = writer.sheet(office_name)
        sheet.row([_("%(office)s学校协管员名单（附件2）") % {"office": office_name}])
        sheet.header(header)
        for number, c in enumerate(coordinators, start=1):
            sheet.row([number, c.school.name, c.name, c.get_gender_display(), c.department, c.post, c.work_phone, c.mobile],
                      text=(6, 7))
    if not offices:
        writer.sheet(_("协管员名单"))
    return writer.save()


register_export("coordinator_annex2", kind="xlsx", probe=lambda text: annex2_workbook([(text, [SimpleNamespace(
    school=SimpleNamespace(name=text), name=text, get_gender_display=lambda: text, department=text, post=text,
    work_phone=text, mobile=text,
)])]))


def admin_actor(request) -> Actor:
    return Actor(user=request.user, source=AuditEvent.Source.ADMIN)


class CoordinatorChangeInline(admin.TabularInline):
    model = CoordinatorChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "changed_by", "action", "changes_read"]
    readonly_fields = fields
    ordering = ["-changed_at"]

    @admin.display(description=gettext_lazy("变更内容"))
    def changes_read(self, obj):
        # "手机：138… → 139…" per line, not the stored JSON.
        return linebreaksbr(obj.change_text())

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StudentImportForm(forms.Form):
    school = forms.ModelChoiceField(label=gettext_lazy("学校"), queryset=School.objects.none())
    file = forms.FileField(label=gettext_lazy("学生名单文件（.xlsx、.xls、.csv）"))
    mode = forms.ChoiceField(
        label=gettext_lazy("有错误行时"), initial=MODE_STRICT,
        choices=[(MODE_STRICT, gettext_lazy("全部不导入")), (MODE_PARTIAL, gettext_lazy("只导入正确的行"))],
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["school"].queryset = School.objects.visible_to(user).filter(active=True).order_by("code")


@admin.register(Coordinator)
class CoordinatorAdmin(ScopedModelAdmin):
    list_display = ["name", "school", "office", "gender", "department", "post", "work_phone", "mobile", "active", "updated_at"]
    list_filter = ["active", ("school__office", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "school__name", "school__code", "mobile"]
    list_select_related = ["school__office"]
    autocomplete_fields = ["school"]
    fields = ["school", "user", "name", "gender", "department", "post", "work_phone", "mobile", "email", "active", "registered_at"]
    readonly_fields = ["active", "registered_at"]
    raw_id_fields = ["user"]
    inlines = [CoordinatorChangeInline]
    actions = ["deactivate", "unlock_login"]
    change_list_template = "portal/admin/coordinator_change_list.html"

    @admin.display(description=gettext_lazy("经办机构"), ordering="school__office__code")
    def office(self, obj):
        return obj.school.office

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # Only accounts of the staff's own district or city: another city's account is not a valid choice.
            kwargs["queryset"] = people_visible_to(request.user, db_field.related_model._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = {key: form.cleaned_data.get(key, getattr(obj, key)) for key in FIELDS}
        if change:
            coordinator_update(actor=admin_actor(request), coordinator=obj, data=data)
        else:
            saved = coordinator_register(actor=admin_actor(request), school=form.cleaned_data["school"], data=data, user=form.cleaned_data.get("user"))
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        coordinator_deactivate(actor=admin_actor(request), coordinator=obj, reason=_("经办机构删除"))

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("标记为不在岗"))
    def deactivate(self, request, queryset):
        for coordinator in queryset:
            coordinator_deactivate(actor=admin_actor(request), coordinator=coordinator, reason=_("经办机构标记不在岗"))
        self.message_user(request, _("已更新%(n)d名协管员。") % {"n": queryset.count()})

    @admin.action(description=gettext_lazy("解除登录锁定"), permissions=["change"])
    def unlock_login(self, request, queryset):
        released = 0
        for coordinator in queryset.select_related("user"):
            if coordinator.user is not None:
                login_unlock(actor=admin_actor(request), user=coordinator.user)
                released += 1
        self.message_user(request, _("已为%(n)d名协管员解除登录锁定。") % {"n": released})

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("missing/", wrap(self.missing_view), name="coordinators_missing"),
            path("annex2.xlsx", wrap(self.annex2_view), name="coordinators_annex2"),
            path("import-students/", wrap(self.import_view), name="coordinators_student_import"),
            path("import-students/<int:pk>/", wrap(self.import_job_view), name="coordinators_student_import_job"),
            path("import-students/<int:pk>/status.json", wrap(self.import_job_status), name="coordinators_student_import_status"),
            path("import-students/<int:pk>/errors.xlsx", wrap(self.import_job_report), name="coordinators_student_import_report"),
        ] + super().get_urls()

    # --- Schools missing a coordinator ------------------------------------

    def missing_view(self, request):
        if not self.has_view_permission(request):
            raise Http404
        schools = list(selectors.schools_without_coordinator(user=request.user))
        today = timezone.localdate()
        deadlines = {}
        for school in schools:
            city_id = school.office.city_id
            if city_id not in deadlines:
                year = current_insurance_year(city_id=city_id)
                deadlines[city_id] = year.coordinator_deadline if year else None
            deadline = deadlines[city_id]
            school.deadline = deadline
            school.late = bool(deadline and today > deadline)
        context = {**self.admin_site.each_context(request), "title": _("未登记协管员的学校"), "schools": schools,
                   "late_count": sum(1 for s in schools if s.late), "opts": self.model._meta}
        return TemplateResponse(request, "portal/admin/coordinators_missing.html", context)

    # --- Annex 2 export per office ----------------------------------------

    def annex2_view(self, request):
        if not self.has_view_permission(request):
            raise Http404
        offices = Office.objects.visible_to(request.user).order_by("code")
        if code := request.GET.get("office"):
            offices = offices.filter(code=code)
        coordinators = self.get_queryset(request).filter(active=True).select_related("school__office").order_by("school__code", "name")
        by_office: dict[int, list] = {}
        for coordinator in coordinators:
            by_office.setdefault(coordinator.school.office_id, []).append(coordinator)
        content = annex2_workbook([(office.name, by_office.get(office.pk, [])) for office in offices])
        response = HttpResponse(content, content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="coordinators-annex2.xlsx"'
        return response

    # --- Student import for bureau staff ------------------------------------

    def import_view(self, request):
        if not self.has_view_permission(request):
            raise Http404
        form = StudentImportForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                job = student_import_start(actor=admin_actor(request), school=form.cleaned_data["school"],
                                           upload=form.cleaned_data["file"], mode=form.cleaned_data["mode"])
            except ValidationError as exc:
                form.add_error("file", exc.messages)
            else:
                messages.info(request, _("文件已上传，正在检查和导入。"))
                return redirect("admin:coordinators_student_import_job", pk=job.pk)
        context = {**self.admin_site.each_context(request), "title": _("导入学生"), "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "portal/admin/student_import.html", context)

    def _job(self, request, pk):
        return get_object_or_404(Job.objects.visible_to(request.user).filter(kind=Job.Kind.STUDENT_IMPORT), pk=pk)

    def import_job_view(self, request, pk):
        job = self._job(request, pk)
        context = {**self.admin_site.each_context(request), "title": _("导入进度"), "job": job, "opts": self.model._meta,
                   "errors": job.result.get("errors", [])[:200]}
        return TemplateResponse(request, "portal/admin/student_import_job.html", context)

    def import_job_status(self, request, pk):
        from coordinators.views.imports import job_payload

        job = self._job(request, pk)
        return JsonResponse(job_payload(job, reverse("admin:coordinators_student_import_report", args=[job.pk])))

    def import_job_report(self, request, pk):
        job = self._job(request, pk)
        if not job.output_file:
            raise Http404
        response = HttpResponse(job.output_file.read(), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="import-errors-{job.pk}.xlsx"'
        return response


