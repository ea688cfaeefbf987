"""Admin pages for the changes during the year: transfers, insurance elsewhere, follow-ups, and staff corrections.

Every correction goes through the enrollment services (audit rows, roster locks, the city's rules).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from enrollment import identity
from enrollment.admin import reference  # noqa: F401  (registers the student admin this module adds an action to)
from enrollment.admin.rules import ReadOnlyMixin, admin_actor, error_text, form_page
from enrollment.admin.scoping import ScopedModelAdmin
from enrollment.models import OtherChannelEnrollment, OtherInsurance, Student, StudentStatus, Transfer
from enrollment.services.elsewhere import insured_elsewhere_cancel
from enrollment.services.leaving import student_leave, student_return


@admin.register(Transfer)
class TransferAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["student", "masked_identity", "from_school", "to_school", "state", "requested_at", "decided_at", "refusal_reason"]
    list_filter = ["state", "insurance_year"]
    list_select_related = ["student", "from_school", "to_school"]
    search_fields = ["=student__identity_number", "student__name"]
    fields = ["student", "masked_identity", "insurance_year", "from_school", "to_school", "state", "note", "requested_by",
              "requested_at", "decided_by", "decided_at", "refusal_reason", "payment_status"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("证件号码"))
    def masked_identity(self, obj):
        return identity.mask(obj.student.identity_number)


class CancelForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("撤销原因"), max_length=200)


@admin.action(description=gettext_lazy("撤销他处参保登记（恢复由学校缴费）"), permissions=["change"])
def cancel_other_insurance(modeladmin, request, queryset):
    form = CancelForm(request.POST if "apply" in request.POST else None)
    records = list(queryset.select_related("enrollment__student"))
    if form.is_bound and form.is_valid():
        done = 0
        for record in records:
            try:
                insured_elsewhere_cancel(actor=admin_actor(request), other=record, reason=form.cleaned_data["reason"])
                done += 1
            except PermissionDenied as exc:
                modeladmin.message_user(request, f"{record.enrollment.student.name}：{exc}", messages.ERROR)
            except ValidationError as exc:
                modeladmin.message_user(request, f"{record.enrollment.student.name}：{error_text(exc)}", messages.ERROR)
        if done:
            modeladmin.message_user(request, _("已撤销%(n)s条他处参保登记，学生恢复由学校缴费。") % {"n": done}, messages.SUCCESS)
        return None
    return form_page(modeladmin, request, title=_("撤销他处参保登记"), form=form, objects=records, action_name="cancel_other_insurance",
                     submit_label=_("确认撤销"), intro=_("撤销后学生回到学校缴费名单（名单须未确认）。请填写撤销原因："))


@admin.register(OtherInsurance)
class OtherInsuranceAdmin(ScopedModelAdmin):
    list_display = ["student_name", "masked_identity", "school", "scheme", "place", "valid_until", "recorded_at"]
    list_filter = ["scheme", "enrollment__insurance_year"]
    list_select_related = ["enrollment__student", "enrollment__school"]
    search_fields = ["=enrollment__student__identity_number", "enrollment__student__name"]
    fields = ["student_name", "masked_identity", "school", "scheme", "place", "valid_until", "detail", "recorded_by", "recorded_at"]
    readonly_fields = fields
    actions = [cancel_other_insurance]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("姓名"))
    def student_name(self, obj):
        return obj.enrollment.student.name

    @admin.display(description=gettext_lazy("证件号码"))
    def masked_identity(self, obj):
        return identity.mask(obj.enrollment.student.identity_number)

    @admin.display(description=gettext_lazy("学校"))
    def school(self, obj):
        return obj.enrollment.school.name


@admin.register(OtherChannelEnrollment)
class OtherChannelEnrollmentAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["student_name", "channel", "place", "enrolled_on", "recorded_by", "recorded_at"]
    list_select_related = ["enrollment__student"]
    fields = ["student_name", "channel", "place", "enrolled_on", "recorded_by", "recorded_at"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("姓名"))
    def student_name(self, obj):
        return obj.enrollment.student.name

    @admin.display(description=gettext_lazy("参保途径"))
    def channel(self, obj):
        return obj.enrollment.get_channel_display()


# --- Staff corrections of a student's status --------------------------------------------------------------


class StatusCorrectionForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("更正为"), choices=[
        (StudentStatus.IN_SCHOOL.value, StudentStatus.IN_SCHOOL.label), (StudentStatus.LEFT.value, StudentStatus.LEFT.label),
        (StudentStatus.DECEASED.value, StudentStatus.DECEASED.label)])
    on = forms.DateField(label=gettext_lazy("离校或死亡日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=gettext_lazy("更正原因"), max_length=200)


@admin.action(description=gettext_lazy("更正在校状态（在校、离校、死亡）"), permissions=["change"])
def correct_student_status(modeladmin, request, queryset):
    form = StatusCorrectionForm(request.POST if "apply" in request.POST else None)
    students = list(queryset.select_related("school__office"))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        for student in students:
            try:
                if data["status"] == StudentStatus.IN_SCHOOL:
                    student_return(actor=admin_actor(request), student=student, reason=data["reason"])
                    text = _("%(name)s已更正为在校。") % {"name": student.name}
                else:
                    text = student_leave(actor=admin_actor(request), student=student, status=data["status"], on=data["on"]).message
                modeladmin.message_user(request, text, messages.SUCCESS)
            except PermissionDenied as exc:
                modeladmin.message_user(request, f"{student.name}：{exc}", messages.ERROR)
            except ValidationError as exc:
                modeladmin.message_user(request, f"{student.name}：{error_text(exc)}", messages.ERROR)
        return None
    return form_page(modeladmin, request, title=_("更正在校状态"), form=form, objects=students, action_name="correct_student_status",
                     submit_label=_("确认更正"), intro=_("已缴费用按本市参保年度的规定处理（见参保年度“离校或死亡学生已缴费用”）。"))


def _attach_to_student_admin():
    student_admin = admin.site._registry.get(Student)
    if student_admin is None:
        return
    actions = list(student_admin.actions or [])
    if correct_student_status not in actions:
        student_admin.actions = [*actions, correct_student_status]


_attach_to_student_admin()
