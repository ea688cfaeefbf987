"""Bureau pages for billing: batches and declarations with state, totals and progress; failures; refunds.

Admin views and actions only parse input, check access and call one service.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import selectors, services
from billing.models import (
    BillingFileDownload,
    DebitAttempt,
    DebitBatch,
    DebitInstruction,
    Declaration,
    ReceiptImport,
    Refund,
    RefundExport,
    UnbillableConfirmation,
)
from billing.views import visible_batches
from enrollment.admin.scoping import ScopedModelAdmin, people_of_city_q
from enrollment.models import CollectionRoute, InsuranceYear, Job, School
from enrollment.querysets import membership_city_id, membership_of
from enrollment.services.common import Actor


def _actor(request):
    return Actor(user=request.user, source="admin")


def years_of(user, route):
    """The insurance years of the user's own city on this collection route: another city's year is not a choice,
    and a posted id of one is refused by the form like any invalid choice."""
    return InsuranceYear.objects.visible_to(user).filter(collection_route=route).select_related("city")


class YearForm(forms.Form):
    insurance_year = forms.ModelChoiceField(queryset=InsuranceYear.objects.none(), label=gettext_lazy("参保年度"))

    def __init__(self, *args, route, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["insurance_year"].queryset = years_of(user, route)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("文件"))


class YearUploadForm(UploadForm):
    insurance_year = forms.ModelChoiceField(queryset=InsuranceYear.objects.none(), label=gettext_lazy("参保年度"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["insurance_year"].queryset = years_of(user, CollectionRoute.TAX_DECLARATION)


def _form_page(request, admin_obj, *, form, title, submit_label, help_text=""):
    context = {**admin_obj.admin_site.each_context(request), "form": form, "title": title, "submit_label": submit_label,
               "help": help_text, "opts": admin_obj.model._meta}
    return TemplateResponse(request, "billing/admin_form.html", context)


def _job_link(job: Job) -> str:
    # The staff job page follows progress and links to the result (batches, declarations).
    return reverse("bureau:job", args=[job.pk])


def _refused(request, exc: ValidationError):
    for message in exc.messages:
        messages.error(request, message)


class ReadOnlyMixin:
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(admin.TabularInline):
    model = DebitAttempt
    fields = ["line_number", "instruction", "amount", "result", "failure_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False



def _generation_page(request, model_admin, *, permission, route, start, started, title, help_text=""):
    """The admin page that starts batch or declaration generation for one insurance year, as a job."""
    if not request.user.has_perm(permission):
        return redirect("admin:index")
    form = YearForm(request.POST or None, route=route, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            job = start(insurance_year=form.cleaned_data["insurance_year"], user=request.user)
        except ValidationError as exc:
            _refused(request, exc)
        else:
            job.refresh_from_db(fields=["enqueued_at", "state"])
            if job.state == job.State.PENDING and job.enqueued_at is None:
                # The broker is unreachable: the job is saved and the sweeper sends it when the queue is back.
                messages.warning(request, _("任务已排队：任务队列暂时不可用，恢复后将自动开始，无需重复提交。"))
            else:
                messages.success(request, started)
            return redirect(_job_link(job))
    return _form_page(request, model_admin, form=form, title=title, submit_label=_("开始生成"), help_text=help_text)

@admin.register(DebitBatch)
class DebitBatchAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["reference", "bank", "insurance_year", "state", "line_count", "total_amount", "succeeded_count",
                     "failed_count", "created_at", "download"]
    list_filter = ["state", ("bank", admin.RelatedOnlyFieldListFilter), ("insurance_year", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference"]
    readonly_fields = ["reference", "bank", "insurance_year", "state", "file_format", "line_count", "total_amount",
                       "checksum", "error", "created_at", "created_by", "results_imported_at", "result_checksum"]
    exclude = ["file"]
    inlines = [AttemptInline]
    change_list_template = "billing/admin_batch_changelist.html"
    change_form_template = "billing/admin_batch_change_form.html"

    def get_queryset(self, request):
        return visible_batches(request.user).select_related("bank", "insurance_year__city")

    @admin.display(description=gettext_lazy("扣款文件"))
    def download(self, obj):
        if not obj.file:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("billing:batch-file", args=[obj.pk]), _("下载"))

    def get_urls(self):
        return [
            path("generate/", self.admin_site.admin_view(self.generate_view), name="billing_debitbatch_generate"),
            path("<int:pk>/import-results/", self.admin_site.admin_view(self.import_view), name="billing_debitbatch_import"),
        ] + super().get_urls()

    def generate_view(self, request):
        return _generation_page(
            request, self, permission="billing.add_debitbatch", route=CollectionRoute.BANK_DEBIT,
            start=services.debit_batches_start, started=_("已开始生成扣款批次，可在后台任务中查看进度。"),
            title=_("生成扣款批次"),
            help_text=_("为已确认且缴费标准为正式标准的名单生成扣款指令，并按银行生成扣款文件。重复生成不会重复扣款。"),
        )

    def import_view(self, request, pk):
        if not request.user.has_perm("billing.change_debitbatch"):
            return redirect("admin:index")
        batch = get_object_or_404(self.get_queryset(request), pk=pk)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                summary = services.batch_results_import(batch=batch, content=upload.read(), file_name=upload.name, actor=_actor(request))
            except ValidationError as exc:
                _refused(request, exc)
            else:
                messages.success(request, _("结果已导入：成功%(ok)d笔，失败%(failed)d笔，其中%(flagged)d笔多次失败待处理。")
                                 % {"ok": summary.succeeded, "failed": summary.failed, "flagged": summary.flagged})
                return redirect("admin:billing_debitbatch_change", batch.pk)
        return _form_page(request, self, form=form, title=_("导入银行扣款结果：%(ref)s") % {"ref": batch.reference},
                          submit_label=_("导入"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "import_url": reverse("admin:billing_debitbatch_import", args=[object_id])}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(DebitInstruction)
class DebitInstructionAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["reference", "school", "kind", "state", "head_count", "amount", "tries", "last_failure", "batch"]
    list_filter = ["state", "kind", "bank", "insurance_year"]
    search_fields = ["reference", "school__name", "school__code"]
    list_select_related = ["school", "batch"]
    actions = ["retry"]

    @admin.action(description=gettext_lazy("重新扣款（多次失败待处理的指令）"))
    def retry(self, request, queryset):
        done = 0
        for instruction in queryset.filter(state=DebitInstruction.State.FLAGGED):
            services.instruction_retry(instruction=instruction, actor=_actor(request))
            done += 1
        messages.success(request, _("%(n)d条扣款指令将进入下一批次。") % {"n": done})

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_debitinstruction") and obj is None


@admin.register(UnbillableConfirmation)
class UnbillableConfirmationAdmin(ReadOnlyMixin, ScopedModelAdmin):
    """Confirmed bank-debit rosters waiting for a usable school account, with the reason."""

    list_display = ["school", "year", "paying_count", "total_amount", "reason"]
    list_filter = ["roster__insurance_year"]

    def get_queryset(self, request):
        return selectors.unbillable_confirmations().filter(pk__in=super().get_queryset(request).values("pk"))

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_debitinstruction")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=gettext_lazy("学校"))
    def school(self, obj):
        return obj.roster.school

    @admin.display(description=gettext_lazy("参保年度"))
    def year(self, obj):
        return obj.roster.insurance_year

    @admin.display(description=gettext_lazy("原因"))
    def reason(self, obj):
        return selectors.account_blocking_reason(school=obj.roster.school)


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["reference", "school", "enrollment", "amount", "reason", "state", "export", "failure_reason", "settled_at"]
    list_filter = ["state"]
    search_fields = ["reference", "school__name"]
    list_select_related = ["school", "enrollment__student", "enrollment__insurance_year", "export"]
    actions = ["export_files"]

    @admin.action(description=gettext_lazy("按学校导出退费文件"))
    def export_files(self, request, queryset):
        schools = School.objects.filter(pk__in=queryset.filter(state=Refund.State.OPEN).values("school_id"))
        exported = [e for e in (services.refunds_export(school=s, actor=_actor(request)) for s in schools) if e]
        messages.success(request, _("已导出%(n)d个退费文件。") % {"n": len(exported)})

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("billing.change_refund") and obj is None


@admin.register(RefundExport)
class RefundExportAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["reference", "school", "state", "line_count", "total_amount", "created_at", "download", "import_link"]
    list_filter = ["state"]
    exclude = ["file"]

    # Same people as refunds themselves: whoever may see refunds sees and settles their files.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_refund")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=gettext_lazy("退费文件"))
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("billing:refund-file", args=[obj.pk]), _("下载")) if obj.file else "-"

    @admin.display(description=gettext_lazy("导入结果"))
    def import_link(self, obj):
        if obj.state != RefundExport.State.EXPORTED:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:billing_refundexport_import", args=[obj.pk]), _("导入结果"))

    def get_urls(self):
        return [
            path("<int:pk>/import-results/", self.admin_site.admin_view(self.import_view), name="billing_refundexport_import"),
        ] + super().get_urls()

    def import_view(self, request, pk):
        if not request.user.has_perm("billing.change_refund"):
            return redirect("admin:index")
        export = get_object_or_404(self.get_queryset(request), pk=pk)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                summary = services.refund_results_import(export=export, content=upload.read(), file_name=upload.name, actor=_actor(request))
            except ValidationError as exc:
                _refused(request, exc)
            else:
                messages.success(request, _("退费结果已导入：成功%(ok)d笔，失败%(failed)d笔。") % {"ok": summary.succeeded, "failed": summary.failed})
                return redirect("admin:billing_refundexport_changelist")
        return _form_page(request, self, form=form, title=_("导入退费结果：%(ref)s") % {"ref": export.reference}, submit_label=_("导入"))


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["reference", "school", "insurance_year", "supplementary", "state", "head_count", "amount", "payment_method",
                    "paid_at", "receipted_count", "download"]
    list_filter = ["state", "supplementary", "insurance_year", "payment_method"]
    search_fields = ["reference", "school__name", "school__code"]
    list_select_related = ["school", "insurance_year__city"]
    actions = ["paid_by_transfer", "paid_by_electronic_debit"]
    change_list_template = "billing/admin_declaration_changelist.html"
    # The file is private storage without a URL: it is reached through the download view, which checks
    # access and logs the download.
    exclude = ["file"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "download"]

    @admin.display(description=gettext_lazy("申报文件"))
    def download(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("billing:declaration-file", args=[obj.pk]), _("下载")) if obj.file else "-"

    def _pay(self, request, queryset, method):
        for declaration in queryset:
            try:
                services.declaration_record_payment(declaration=declaration, method=method, actor=_actor(request))
            except ValidationError as exc:
                _refused(request, exc)
            else:
                messages.success(request, _("%(ref)s已登记缴款。") % {"ref": declaration.reference})

    @admin.action(description=gettext_lazy("登记缴款：银行转账"))
    def paid_by_transfer(self, request, queryset):
        self._pay(request, queryset, Declaration.PaymentMethod.TRANSFER)

    @admin.action(description=gettext_lazy("登记缴款：电子扣款"))
    def paid_by_electronic_debit(self, request, queryset):
        self._pay(request, queryset, Declaration.PaymentMethod.ELECTRONIC_DEBIT)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("billing.change_declaration") and obj is None

    def get_urls(self):
        return [
            path("generate/", self.admin_site.admin_view(self.generate_view), name="billing_declaration_generate"),
            path("import-receipts/", self.admin_site.admin_view(self.receipts_view), name="billing_declaration_receipts"),
        ] + super().get_urls()

    def generate_view(self, request):
        return _generation_page(
            request, self, permission="billing.change_declaration", route=CollectionRoute.TAX_DECLARATION,
            start=services.declarations_start, started=_("已开始生成税务申报，可在后台任务中查看进度。"),
            title=_("生成税务申报"),
        )

    def receipts_view(self, request):
        if not request.user.has_perm("billing.change_declaration"):
            return redirect("admin:index")
        form = YearUploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                count = services.receipts_import(insurance_year=form.cleaned_data["insurance_year"], content=upload.read(),
                                                 file_name=upload.name, actor=_actor(request))
            except ValidationError as exc:
                _refused(request, exc)
            else:
                messages.success(request, _("已导入%(n)d张电子票据。") % {"n": count})
                return redirect("admin:billing_declaration_changelist")
        return _form_page(request, self, form=form, title=_("导入电子票据"), submit_label=_("导入"),
                          help_text=_("税务部门的电子票据文件（.xlsx）：证件号码、电子票据号、金额三列，第一行为表头。"))


@admin.register(ReceiptImport)
class ReceiptImportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["imported_at", "insurance_year", "file_name", "receipt_count", "imported_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(insurance_year__in=InsuranceYear.objects.visible_to(request.user))

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_declaration")

    def has_module_permission(self, request):
        return self.has_view_permission(request)


@admin.register(BillingFileDownload)
class BillingFileDownloadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "user", "file_name", "batch", "declaration", "refund_export"]
    list_select_related = ["user", "batch", "declaration", "refund_export"]

    def get_queryset(self, request):
        # Scoped by the city of the account that downloaded, as the personal-data access log.
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        city_id = membership_city_id(membership_of(request.user))
        return qs.none() if city_id is None else qs.filter(people_of_city_q(city_id, "user__"))
