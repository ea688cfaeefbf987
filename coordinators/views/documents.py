"""Portal pages for printed documents (R17) and the operation manual (R18)."""

import datetime
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordinators import manual
from coordinators.selectors_documents import classes_of
from coordinators.services import documents as documents_service
from coordinators.services import handouts as handouts_service
from coordinators.views.access import coordinator_required, portal_actor, school_of
from enrollment import identity
from enrollment.models import InsuranceYear, Job, Student
from enrollment.services.common import current_insurance_year


def _year(request) -> InsuranceYear | None:
    """The year asked for (one of the school's city), else the current one."""
    city_id = request.school.office.city_id
    raw = request.POST.get("year") or request.GET.get("year")
    if raw and raw.isdigit():
        year = InsuranceYear.objects.filter(pk=int(raw), city_id=city_id).first()
        if year is not None:
            return year
    return current_insurance_year(city_id=city_id)


def _job(request, pk) -> Job:
    # Scoped to the coordinator's own school: another school's job is a 404, not a 403.
    return get_object_or_404(
        Job.objects.visible_to(request.user).filter(school=request.school, kind=Job.Kind.DOCUMENTS), pk=pk
    )


@coordinator_required
def documents(request):
    year = _year(request)
    years = InsuranceYear.objects.filter(city_id=request.school.office.city_id).order_by("-window_start")
    jobs = Job.objects.visible_to(request.user).filter(school=request.school, kind=Job.Kind.DOCUMENTS)[:10]
    return render(request, "portal/documents/index.html", {
        "year": year,
        "years": years,
        "classes": classes_of(school=request.school, insurance_year=year) if year else [],
        "jobs": jobs,
        "today": timezone.localdate(),
        "now": timezone.now(),
    })


@coordinator_required
@require_POST
def documents_generate(request):
    year = _year(request)
    if year is None:
        raise Http404
    scope = request.POST.get("scope", "")
    student_id = None
    if scope == documents_service.Scope.STUDENT:
        # The student's record number (links from the register) or identity number (typed by the coordinator);
        # another school's student is simply not found.
        raw = identity.normalize(request.POST.get("student", ""))
        students = Student.objects.visible_to(request.user).filter(school=request.school)
        if len(raw) == 18:
            student = students.filter(identity_number=raw).first()
            if student is None:
                messages.error(request, _("本校学生中没有该身份证号码。"))
                return redirect(_documents_url(year))
        elif raw.isdigit():
            student = get_object_or_404(students, pk=int(raw))
        else:
            raise Http404
        student_id = student.pk
    try:
        job = documents_service.request_rights_records(
            actor=portal_actor(request), school=request.school, insurance_year=year, scope=scope,
            class_name=request.POST.get("class_name", ""), student_id=student_id,
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(_documents_url(year))
    return redirect("portal:documents_job", pk=job.pk)


def _documents_url(year) -> str:
    return f"{reverse('portal:documents')}?year={year.pk}"


def _payload(job: Job) -> dict:
    downloadable = documents_service.is_downloadable(job)
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "done": job.state in (Job.State.SUCCEEDED, Job.State.FAILED),
        "download_url": reverse("portal:documents_download", args=[job.pk]) if downloadable else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
    }


@coordinator_required
def documents_job(request, pk):
    job = _job(request, pk)
    return render(request, "portal/documents/job.html", {
        "job": job, "downloadable": documents_service.is_downloadable(job),
        "running": job.state in (Job.State.PENDING, Job.State.RUNNING),
    })


@coordinator_required
def documents_job_status(request, pk):
    return JsonResponse(_payload(_job(request, pk)))


@coordinator_required
def documents_download(request, pk):
    job = _job(request, pk)
    if not documents_service.is_downloadable(job):
        return render(request, "portal/documents/expired.html", {"job": job}, status=410)
    job = documents_service.record_download(job=job)
    return FileResponse(
        job.output_file.open("rb"), as_attachment=True, filename=f"rights-records-{job.pk}.pdf",
        content_type="application/pdf",
    )


@coordinator_required
@require_POST
def handout_record(request):
    year = _year(request)
    if year is None:
        raise Http404
    try:
        day = datetime.date.fromisoformat(request.POST.get("handed_out_on", ""))
    except ValueError:
        messages.error(request, _("发放日期格式不正确，请按“年-月-日”填写。"))
        return redirect(_documents_url(year))
    try:
        handouts_service.record_handout(
            actor=portal_actor(request), school=request.school, insurance_year=year,
            class_name=request.POST.get("class_name", ""), handed_out_on=day,
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("已登记“%(cls)s”的发放日期。") % {"cls": request.POST.get("class_name", "")})
    return redirect(_documents_url(year))


# --- Operation manual --------------------------------------------------------


@login_required
def manual_index(request):
    chapters = manual.chapters()
    if not chapters:
        raise Http404
    return redirect("portal:manual_chapter", slug=chapters[0].slug)


@login_required
def manual_chapter(request, slug):
    # The manual is open to bureau staff too; a coordinator also gets the portal navigation.
    request.school = school_of(request.user)
    chapter = manual.chapter(slug)
    if chapter is None:
        raise Http404
    return render(request, "portal/documents/manual.html", {
        "chapter": chapter, "chapters": manual.chapters(), "content": manual.render_html(chapter),
    })


@login_required
def manual_screenshot(request, name):
    path = manual.screenshot_path(f"screenshots/{name}")
    if path is None:
        raise Http404
    return FileResponse(path.open("rb"), content_type="image/png")


@login_required
def manual_pdf(request):
    buffer = io.BytesIO()
    manual.render_pdf(buffer)
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="coordinator-manual.pdf"'
    return response
