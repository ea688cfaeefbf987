"""Admin pages of graduate deregistration for bureau staff: upload feeds, run the job, follow exceptions.

Records are scoped by school office (``ScopedModelAdmin``): district staff see
their office's schools' exceptions only. Nothing here writes except through
``graduates.services``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enrollment.admin.scoping import ScopedModelAdmin
from enrollment.models import School
from enrollment.querysets import membership_city_id, membership_of
from graduates import services, tasks
from graduates.models import DeregistrationRun, FeedSource, GraduateFeed, GraduateRecord
from graduates.parsing import FeedRefused


def can_feed(request) -> bool:
    """Receiving feeds and running deregistration act city-wide, so they need the add right on feeds."""
    return is_bureau_staff(request) and request.user.has_perm("graduates.add_graduatefeed")


def is_bureau_staff(request) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    membership = membership_of(user)
    return membership is not None and membership.role in {"district_staff", "city_staff"}


class BureauOnlyMixin:
    """Bureau staff only, whatever model permissions a group grants; machines and coordinators never."""

    def has_module_permission(self, request):
        return is_bureau_staff(request)

    def has_view_permission(self, request, obj=None):
        return is_bureau_staff(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def uploader_shown_to(request, user) -> bool:
    """Who uploaded a feed is shown to superusers and to city staff of the uploader's own city only."""
    if user is None:
        return True
    if request.user.is_superuser:
        return True
    membership = membership_of(request.user)
    if membership is None or membership.role != "city_staff":
        return False
    return membership_city_id(membership_of(user)) == membership.city_id


class FeedUploadForm(forms.Form):
    source = forms.ChoiceField(label=gettext_lazy("数据来源"), choices=FeedSource.choices)
    upload = forms.FileField(label=gettext_lazy("文件（.xlsx或.csv）"))


@admin.register(GraduateFeed)
class GraduateFeedAdmin(BureauOnlyMixin, ScopedModelAdmin):
    list_display = ["id", "city", "source", "received_via", "file_name", "record_count", "state", "received_at", "processed_at", "claimed_by_run"]
    list_filter = ["state", "source", "received_via"]
    list_select_related = ["city", "claimed_by_run"]
    search_fields = ["file_name", "checksum"]
    fields = list_display[1:] + ["checksum", "received_by", "claimed_at"]
    readonly_fields = fields
    actions = ["run_now"]

    def get_fields(self, request, obj=None):
        # The uploader is personal data of another tenant's staff: a per-request column decides what is shown.
        def uploader(feed):
            if not uploader_shown_to(request, feed.received_by):
                return "—"
            return feed.received_by.get_username() if feed.received_by else "—"

        uploader.short_description = GraduateFeed._meta.get_field("received_by").verbose_name
        if not hasattr(request, "_feed_fields"):  # the same callables for fields and readonly fields
            request._feed_fields = [uploader if name == "received_by" else name for name in self.fields]
        return request._feed_fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)
    change_list_template = "admin/graduates/graduatefeed/change_list.html"

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="graduates_graduatefeed_upload"),
            path("run/", self.admin_site.admin_view(self.run_view), name="graduates_graduatefeed_run"),
        ] + super().get_urls()

    def upload_view(self, request):
        # A feed stops graduates of every school of the city: only those who may add feeds (city staff).
        if not can_feed(request):
            raise PermissionDenied
        form = FeedUploadForm(request.POST or None, request.FILES or None)
        report = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["upload"]
            try:
                receipt = services.feed_receive(
                    source=form.cleaned_data["source"],
                    via=GraduateFeed.Via.ADMIN,
                    content=upload.read(),
                    file_name=upload.name,
                    user=request.user,
                )
            except FeedRefused as refused:
                report = refused.errors
                messages.error(request, _("文件未接收，请按下列错误修改后重新上传，未保存任何数据。"))
            else:
                level = messages.SUCCESS if receipt.created else messages.WARNING
                self.message_user(request, receipt.message, level)
                return redirect("admin:graduates_graduatefeed_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("上传毕业生数据"),
            "form": form,
            "report": report,
            "changelist_url_name": "admin:graduates_graduatefeed_changelist",
            "intro": _("文件须包含列：身份证号码、姓名、学校代码、毕业日期；班级可选。CSV请使用UTF-8或GBK编码。同一文件重复上传只记录一次。"),
            "multipart": True,
            "submit_label": _("上传"),
        }
        return TemplateResponse(request, "admin/enrollment/form_page.html", context)

    def run_view(self, request):
        if not can_feed(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:graduates_graduatefeed_changelist")
        job = tasks.deregistration_start(triggered_by=f"admin:{request.user.get_username()}", user=request.user)
        self.message_user(request, _("已提交停保处理，本页显示进度，完成后显示结果。"), messages.SUCCESS)
        # The job's page follows the run on the worker and shows its counts, as for billing runs.
        return redirect("bureau:job", pk=job.pk)

    @admin.action(description=gettext_lazy("立即处理全部待处理数据（停保）"))
    def run_now(self, request, queryset):
        if not can_feed(request):
            raise PermissionDenied
        job = tasks.deregistration_start(triggered_by=f"admin:{request.user.get_username()}", user=request.user)
        self.message_user(request, _("已提交停保处理，本页显示进度，完成后显示结果。"), messages.SUCCESS)
        return redirect("bureau:job", pk=job.pk)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "upload_url": reverse("admin:graduates_graduatefeed_upload"),
            "run_url": reverse("admin:graduates_graduatefeed_run"),
        }
        return super().changelist_view(request, extra_context)


@admin.register(GraduateRecord)
class GraduateRecordAdmin(BureauOnlyMixin, ScopedModelAdmin):
    list_display = ["name", "masked_identity", "school", "school_code", "class_name", "graduation_date", "outcome", "feed", "run", "resolved_at"]
    list_filter = ["outcome", ("resolved_at", admin.EmptyFieldListFilter), "feed__source"]
    search_fields = ["name", "school_code", "school__name"]
    list_select_related = ["school", "feed", "run"]
    fields = [
        "feed", "row_number", "masked_identity", "name", "school_code", "school", "class_name", "graduation_date",
        "student", "insurance_year", "enrollment", "outcome", "run", "resolved_at", "resolved_by",
    ]
    readonly_fields = fields
    actions = ["mark_resolved"]

    @admin.display(description=gettext_lazy("身份证号码"))
    def masked_identity(self, obj):
        return obj.masked_identity_number

    @admin.action(description=gettext_lazy("标记为已人工处理"))
    def mark_resolved(self, request, queryset):
        count = services.exceptions_resolve(records=queryset, user=request.user)
        self.message_user(request, _("已标记%(n)d条记录为已处理。") % {"n": count}, messages.SUCCESS)


@admin.register(DeregistrationRun)
class DeregistrationRunAdmin(BureauOnlyMixin, ScopedModelAdmin):
    list_display = ["id", "city", "state", "triggered_by", "started_at", "duration", "feeds_processed", "record_count", "matched", "stopped", "exceptions"]

    @admin.display(description=gettext_lazy("耗时"), ordering="duration_seconds")
    def duration(self, run):
        if run.duration_seconds is None:
            return "—"
        minutes, seconds = divmod(round(run.duration_seconds, 1), 60)
        return _("%(m)d分%(s).1f秒") % {"m": minutes, "s": seconds} if minutes else _("%(s).1f秒") % {"s": seconds}
    list_filter = ["state"]
    fields = list_display[1:] + ["finished_at", "exceptions_per_school", "error"]
    readonly_fields = fields
    actions = ["mark_failed"]

    def get_fields(self, request, obj=None):
        # A run covers the whole city; each viewer sees the per-school counts of the schools in their scope only.
        def exceptions_per_school(run):
            counts = run.exceptions_per_school or {}
            if not request.user.is_superuser:
                visible = set(School.objects.visible_to(request.user).filter(code__in=list(counts)).values_list("code", flat=True))
                counts = {code: n for code, n in counts.items() if code in visible}
            return "；".join(f"{code}: {n}" for code, n in sorted(counts.items())) or "—"

        exceptions_per_school.short_description = DeregistrationRun._meta.get_field("exceptions_per_school").verbose_name
        if not hasattr(request, "_run_fields"):  # the same callables for fields and readonly fields
            request._run_fields = [exceptions_per_school if name == "exceptions_per_school" else name for name in self.fields]
        return request._run_fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.action(description=gettext_lazy("标记为失败（其未完成的数据交由下次处理）"))
    def mark_failed(self, request, queryset):
        released = 0
        for run in queryset.filter(state=DeregistrationRun.State.RUNNING):
            released += services.run_mark_failed(run=run, reason=_("经办人员%(user)s标记为失败") % {"user": request.user.get_username()})
        self.message_user(request, _("已释放%(n)d批数据，将由下次处理。") % {"n": released}, messages.SUCCESS)
