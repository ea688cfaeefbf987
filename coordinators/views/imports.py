from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from coordinators.forms import ImportForm
from coordinators.views.access import coordinator_required, portal_actor
from enrollment import exports
from enrollment.models import Job
from enrollment.services import students as service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _job(request, pk):
    return get_object_or_404(
        Job.objects.visible_to(request.user).filter(school=request.school, kind=Job.Kind.STUDENT_IMPORT), pk=pk
    )


@coordinator_required
def import_start(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = service.student_import_start(
                actor=portal_actor(request), school=request.school, upload=form.cleaned_data["file"], mode=form.cleaned_data["mode"],
            )
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            return redirect("portal:import_job", pk=job.pk)
    jobs = Job.objects.visible_to(request.user).filter(school=request.school, kind=Job.Kind.STUDENT_IMPORT)[:10]
    return render(request, "portal/imports/start.html", {"form": form, "jobs": jobs})


@coordinator_required
def import_template(request):
    response = HttpResponse(exports.import_template(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="student-import-template.xlsx"'
    return response


@coordinator_required
def import_job(request, pk):
    job = _job(request, pk)
    return render(request, "portal/imports/job.html", {"job": job, "errors": job.result.get("errors", [])[:200]})


def job_payload(job: Job, report_url: str | None) -> dict:
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "done": job.state in (Job.State.SUCCEEDED, Job.State.FAILED),
        "error": job.error,
        "result": {k: v for k, v in job.result.items() if k != "errors"},
        "error_count": len(job.result.get("errors", [])),
        "report_url": report_url if job.output_file else None,
    }


@coordinator_required
def import_job_status(request, pk):
    job = _job(request, pk)
    return JsonResponse(job_payload(job, reverse("portal:import_report", args=[job.pk])))


@coordinator_required
def import_report(request, pk):
    job = _job(request, pk)
    if not job.output_file:
        raise Http404
    return FileResponse(job.output_file.open("rb"), as_attachment=True, filename=f"import-errors-{job.pk}.xlsx", content_type=XLSX)


