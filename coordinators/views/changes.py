"""Changes during the year on the portal: transfers between schools, leaving or death, insurance elsewhere."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from coordinators import selectors
from coordinators.views.access import coordinator_required, portal_actor
from enrollment.models import Enrollment, OtherScheme, Student, StudentStatus, Transfer
from enrollment.selectors_changes import other_insurance_of, transfers_for_school
from enrollment.services import elsewhere, leaving, transfers

DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class TransferRequestForm(forms.Form):
    identity_number = forms.CharField(label=gettext_lazy("转入学生的证件号码"), max_length=40)
    note = forms.CharField(label=gettext_lazy("说明（如：转学手续日期、原学校班级）"), max_length=200, required=False)


class RefuseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("拒绝原因"), max_length=200)


class LeaveForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("状态"), choices=[
        (StudentStatus.LEFT.value, StudentStatus.LEFT.label), (StudentStatus.DECEASED.value, StudentStatus.DECEASED.label)])
    on = forms.DateField(label=gettext_lazy("离校或死亡日期"), widget=DATE)


class ElsewhereForm(forms.Form):
    scheme = forms.ChoiceField(label=gettext_lazy("参保险种"), choices=OtherScheme.choices)
    place = forms.CharField(label=gettext_lazy("参保地"), max_length=100)
    valid_until = forms.DateField(label=gettext_lazy("参保截止日期"), widget=DATE)
    detail = forms.CharField(label=gettext_lazy("证明材料说明"), max_length=200, required=False)


def _errors_into(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _student(request, pk):
    return get_object_or_404(Student.objects.visible_to(request.user).filter(school=request.school), pk=pk)


@coordinator_required
def transfer_list(request):
    form = TransferRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            transfer = transfers.transfer_request(
                actor=portal_actor(request), to_school=request.school,
                identity_number=form.cleaned_data["identity_number"], note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            _errors_into(form, exc)
        else:
            messages.success(request, _("已向%(school)s申请转入%(name)s，等待原学校处理。") % {
                "school": transfer.from_school.name, "name": transfer.student.name})
            return redirect("portal:transfers")
    rows = [
        {"transfer": t, "incoming": t.to_school_id == request.school.pk, "outcome": transfers.transfer_outcome_text(t)}
        for t in transfers_for_school(school=request.school)[:200]
    ]
    return render(request, "portal/changes/transfers.html", {"form": form, "rows": rows, "refuse_form": RefuseForm()})


def _waiting_transfer(request, pk) -> Transfer:
    # Only the old school answers: a request is not even found by anyone else on the portal.
    return get_object_or_404(Transfer.objects.filter(from_school=request.school), pk=pk)


@require_POST
@coordinator_required
def transfer_accept(request, pk):
    transfer = _waiting_transfer(request, pk)
    try:
        transfer = transfers.transfer_accept(actor=portal_actor(request), transfer=transfer)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(name)s已转入%(school)s。") % {"name": transfer.student.name, "school": transfer.to_school.name}
                         + transfers.transfer_outcome_text(transfer))
    return redirect("portal:transfers")


@require_POST
@coordinator_required
def transfer_refuse(request, pk):
    transfer = _waiting_transfer(request, pk)
    form = RefuseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写拒绝原因，转入学校会看到该原因。"))
        return redirect("portal:transfers")
    try:
        transfers.transfer_refuse(actor=portal_actor(request), transfer=transfer, reason=form.cleaned_data["reason"])
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已拒绝该转学申请。"))
    return redirect("portal:transfers")


@coordinator_required
def student_leave(request, pk):
    student = _student(request, pk)
    year = selectors.year_for(request.school)
    form = LeaveForm(request.POST or None, initial={"status": StudentStatus.LEFT})
    if request.method == "POST" and form.is_valid():
        try:
            outcome = leaving.student_leave(actor=portal_actor(request), student=student, status=form.cleaned_data["status"],
                                            on=form.cleaned_data["on"])
        except ValidationError as exc:
            _errors_into(form, exc)
        else:
            messages.success(request, outcome.message)
            return redirect("portal:students")
    rule = leaving.leaving_rule_text(insurance_year=year) if year is not None else ""
    return render(request, "portal/changes/leave.html", {"student": student, "form": form, "rule": rule, "year": year})


@coordinator_required
def student_elsewhere(request, pk):
    student = _student(request, pk)
    year = selectors.year_for(request.school)
    enrollment = Enrollment.objects.filter(student=student, insurance_year=year).first() if year else None
    current = other_insurance_of(enrollment=enrollment)
    initial = {"scheme": current.scheme, "place": current.place, "valid_until": current.valid_until, "detail": current.detail} if current else {}
    form = ElsewhereForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            elsewhere.insured_elsewhere_record(actor=portal_actor(request), student=student, **form.cleaned_data)
        except ValidationError as exc:
            _errors_into(form, exc)
        else:
            messages.success(request, _("已登记%(name)s在他处参保：本年度不经学校缴费，计入参保率（单列）。") % {"name": student.name})
            return redirect("portal:students")
    return render(request, "portal/changes/elsewhere.html", {"student": student, "form": form, "current": current, "year": year})
