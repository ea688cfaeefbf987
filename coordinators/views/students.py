from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordinators import selectors
from coordinators.forms import StudentForm, StudentStatusForm
from coordinators.views.access import coordinator_required, portal_actor
from enrollment.identity import normalize
from enrollment.models import Channel, Student, StudentStatus
from enrollment.selectors_coverage import student_coverage, students_coverage
from enrollment.services import students as service
from enrollment.services.leaving import student_leave

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _student(request, pk):
    return get_object_or_404(Student.objects.visible_to(request.user).filter(school=request.school), pk=pk)


def _apply_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@coordinator_required
def student_list(request):
    year = selectors.year_for(request.school)
    qs = selectors.student_list(school=request.school, year=year, params=request.GET)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    enrollments = selectors.channels_for(page.object_list, year)
    coverages = students_coverage(students=page.object_list, insurance_year=year) if year else {}
    rows = [(s, enrollments.get(s.pk), coverages.get(s.pk)) for s in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    # A full identity number typed into the search is not echoed back into the page.
    q = (request.GET.get("q") or "").strip()
    q_display = "" if len(normalize(q)) == 18 else q
    return render(request, "portal/students/list.html", {
        "page": page, "rows": rows, "year": year, "query": query.urlencode(),
        "grades": range(1, request.school.final_grade + 1), "class_names": selectors.class_names(request.school),
        "statuses": StudentStatus.choices, "channels": Channel.choices, "params": request.GET, "q_display": q_display,
    })


@coordinator_required
def student_add(request):
    form = StudentForm(request.POST or None, school=request.school)
    if request.method == "POST" and form.is_valid():
        try:
            student = service.student_create(actor=portal_actor(request), school=request.school, data=form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("已登记学生%(name)s。") % {"name": student.name})
            return redirect("portal:students")
    return render(request, "portal/students/form.html", {"form": form, "title": _("登记学生")})


@coordinator_required
def student_edit(request, pk):
    student = _student(request, pk)
    initial = {f: getattr(student, f) for f in StudentForm.base_fields}
    form = StudentForm(request.POST or None, initial=initial, school=request.school)
    status_form = StudentStatusForm(initial={"status": student.status})
    year = selectors.year_for(request.school)
    coverage = student_coverage(student=student, insurance_year=year) if year else None
    if request.method == "POST" and form.is_valid():
        try:
            service.student_update(actor=portal_actor(request), student=student, data=form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("已保存%(name)s的信息。") % {"name": student.name})
            return redirect("portal:students")
    return render(request, "portal/students/form.html", {
        "form": form, "student": student, "status_form": status_form, "title": _("修改学生信息"), "coverage": coverage,
    })


@require_POST
@coordinator_required
def student_status(request, pk):
    student = _student(request, pk)
    form = StudentStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择状态并填写日期。"))
        return redirect("portal:student_edit", pk=pk)
    status = form.cleaned_data["status"]
    try:
        if status in (StudentStatus.LEFT, StudentStatus.DECEASED):
            # The city's rule on a paid fee decides what the year's enrollment becomes: the coordinator is told.
            outcome = student_leave(actor=portal_actor(request), student=student, status=status, on=form.cleaned_data["on"])
            text = outcome.message
        else:
            service.student_set_status(actor=portal_actor(request), student=student, status=status, on=form.cleaned_data["on"])
            text = _("%(name)s的状态已改为“%(status)s”。") % {"name": student.name, "status": StudentStatus(status).label}
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:student_edit", pk=pk)
    messages.success(request, text)
    return redirect("portal:students")


@coordinator_required
def export(request, what):
    full = request.GET.get("full") == "1"
    if what not in ("register", "roster"):
        return redirect("portal:students")
    try:
        filename, content = service.students_export(
            actor=portal_actor(request), school=request.school, what=what, full_numbers=full, ip_address=request.META.get("REMOTE_ADDR"),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:students")
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
