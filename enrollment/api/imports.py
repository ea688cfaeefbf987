"""Student imports over the API: upload a file for a school (202 + job id), then follow the job.

Both views start from ``visible_to``: another school's coordinator gets 404 for
the school and for its jobs alike.
"""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from enrollment.api.base import ErrorSerializer, error_response
from enrollment.api.permissions import SystemReadOnly
from enrollment.models import AuditEvent, Job, School
from enrollment.services.common import Actor
from enrollment.services.students import MODE_STRICT, MODES, student_import_start

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def job_data(request, job: Job) -> dict:
    report = reverse("api-job-report", args=[job.pk]) if job.output_file else None
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "total": job.total,
        "percent": job.percent,
        "error": job.error,
        "result": job.result,
        "error_report": request.build_absolute_uri(report) if report else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


class JobSerializer(serializers.Serializer):
    """What ``job_data`` answers: the state and progress of a background job."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=Job.State.choices)
    progress = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    result = serializers.JSONField()
    error_report = serializers.URLField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class StudentImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".xlsx, .xls or .csv (UTF-8 or GBK)")
    mode = serializers.ChoiceField(choices=MODES, required=False, help_text="strict (default): import nothing if any row is wrong")


class StudentImportView(APIView):
    """POST multipart: ``file`` (.xlsx/.xls/.csv) and optional ``mode`` (strict | partial)."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [SystemReadOnly]

    @extend_schema(
        request={"multipart/form-data": StudentImportRequestSerializer},
        responses={202: JobSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request, code):
        school = get_object_or_404(School.objects.visible_to(request.user), code=code)
        upload = request.FILES.get("file")
        if upload is None:
            return error_response(code="required", message=_("请上传学生名单文件（字段名 file）。"), field="file")
        if not upload.size:
            # Refused here rather than as a failed job: there is nothing to import.
            return error_response(code="empty", message=_("上传的文件是空的。"), field="file")
        mode = request.data.get("mode") or MODE_STRICT
        if mode not in MODES:
            return error_response(code="invalid", message=_("mode 只能是 strict 或 partial。"), field="mode")
        job = student_import_start(
            actor=Actor(user=request.user, source=AuditEvent.Source.API), school=school, upload=upload, mode=mode,
        )
        return Response(job_data(request, job), status=status.HTTP_202_ACCEPTED,
                        headers={"Location": reverse("api-job", args=[job.pk])})


class JobView(APIView):
    permission_classes = [SystemReadOnly]

    @extend_schema(responses={200: JobSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        job = get_object_or_404(Job.objects.visible_to(request.user), pk=pk)
        return Response(job_data(request, job))


class JobReportView(APIView):
    permission_classes = [SystemReadOnly]

    @extend_schema(responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="error report"), 404: ErrorSerializer})
    def get(self, request, pk):
        job = get_object_or_404(Job.objects.visible_to(request.user), pk=pk)
        if not job.output_file:
            raise Http404
        return FileResponse(job.output_file.open("rb"), as_attachment=True, filename=f"job-{job.pk}.xlsx", content_type=XLSX)



urlpatterns = [
    path("schools/<str:code>/students/import", StudentImportView.as_view(), name="api-student-import"),
    path("jobs/<int:pk>", JobView.as_view(), name="api-job"),
    path("jobs/<int:pk>/report", JobReportView.as_view(), name="api-job-report"),
]
