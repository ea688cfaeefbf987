"""Read and confirm endpoints of the core under /api/v1/.

Every queryset starts from ``visible_to(request.user)``: lists, counts,
filters and details share one scope, so another school's roster is a 404,
not a 403 that would confirm it exists.
"""

import dataclasses
import datetime
import re
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from enrollment import identity
from enrollment.api import serializers as s
from enrollment.api.base import ErrorSerializer
from enrollment.api.filters import (
    CitizenCardFilter,
    EnrollmentFilter,
    ExemptionFilter,
    InsuranceYearFilter,
    RosterFilter,
    SchoolFilter,
    StudentFilter,
)
from enrollment.api.permissions import IsBureauStaff, IsCoordinator, SystemReadOnly, is_bureau_staff
from enrollment.models import (
    AuditEvent,
    CitizenCard,
    Enrollment,
    Exemption,
    InsuranceYear,
    PersonalDataAccess,
    Role,
    Roster,
    School,
    Student,
)
from enrollment.querysets import membership_of
from enrollment.selectors import student_list_cache_key
from enrollment.services.common import Actor

FULL_PARAMETER = OpenApiParameter(
    "full", OpenApiTypes.BOOL, OpenApiParameter.QUERY, required=False,
    description="Bureau staff only: show full identity numbers (each use is logged).",
)


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class FullIdentityMixin:
    """Masked identity numbers by default; ``?full=1`` from bureau staff shows them and logs the access."""

    full_identity_action = PersonalDataAccess.Action.API_FULL_IDENTITY

    def wants_full_identity(self) -> bool:
        raw = self.request.query_params.get("full", "")
        return raw.lower() in {"1", "true", "yes"} and is_bureau_staff(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["full_identity"] = self.wants_full_identity()
        return context

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and getattr(request, "user", None) is not None and self.wants_full_identity():
            data = response.data if isinstance(response.data, dict) else {}
            count = len(data["results"]) if isinstance(data.get("results"), list) else 1
            if count:
                PersonalDataAccess.objects.create(
                    user=request.user,
                    action=self.full_identity_action,
                    target=request.get_full_path()[:200],
                    record_count=count,
                    ip_address=client_ip(request),
                )
        return response


class ScopedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [SystemReadOnly]
    model = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)


@extend_schema_view(list=extend_schema(summary="Schools in the caller's scope"))
class SchoolViewSet(ScopedReadOnlyViewSet):
    model = School
    serializer_class = s.SchoolSerializer
    filterset_class = SchoolFilter
    ordering_fields = ["code", "name", "kind"]
    ordering = ["code"]

    def get_queryset(self):
        return super().get_queryset().select_related("office")


WRITE_ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


@extend_schema_view(list=extend_schema(parameters=[FULL_PARAMETER]), retrieve=extend_schema(parameters=[FULL_PARAMETER]))
class StudentViewSet(FullIdentityMixin, ScopedReadOnlyViewSet):
    """Students of the caller's schools; a school's information system registers and corrects them here.

    Writes go through the same per-field rules and the same services as the
    portal form: the same verdicts, the roster lock and the declaration window,
    the audit trail and the enrollment refresh. A school outside the caller's
    scope, and its students, are not found (404).
    """

    model = Student
    serializer_class = s.StudentSerializer
    filterset_class = StudentFilter
    ordering_fields = ["name", "grade", "class_name", "created_at", "id"]
    ordering = ["school_id", "grade", "class_name", "name", "id"]

    def get_queryset(self):
        return super().get_queryset().select_related("school")

    @extend_schema(
        summary="Register a student at a school of the caller's scope",
        request=s.StudentInputSerializer,
        responses={201: s.StudentSerializer, **WRITE_ERRORS},
        description="Identity number, name and grade are required; sex and birth date may be left out when the number "
                    "carries them. Errors name the field; outside the declaration window the answer is 409.",
    )
    def create(self, request, *args, **kwargs):
        from enrollment.services.students import student_create

        school = self._school_to_write(request)
        data = s.StudentInputSerializer(data=request.data, context={"school": school})
        data.is_valid(raise_exception=True)
        student = student_create(actor=Actor(user=request.user, source=AuditEvent.Source.API), school=school, data=data.validated_data)
        student = self.get_queryset().get(pk=student.pk)
        return Response(self.get_serializer(student).data, status=201, headers={"Location": f"{request.path}/{student.pk}"})

    @extend_schema(
        summary="Correct a student's details: only the fields sent change",
        request=s.StudentInputSerializer,
        responses={200: s.StudentSerializer, **WRITE_ERRORS},
        description="The fields sent are checked together with the student's other values, as the portal form does. "
                    "A student is never moved to another school here.",
    )
    def partial_update(self, request, *args, **kwargs):
        from enrollment.services.students import student_update

        student = self.get_object()
        if isinstance(request.data, Mapping) and request.data.get("school") not in (None, "", student.school_id, str(student.school_id)):
            raise ValidationError({"school": ValidationError(
                _("学生不能通过修改转到其他学校：请由新学校登记，原学校办理离校。"), code="school_change")})
        data = s.StudentInputSerializer(student, data=request.data, partial=True, context={"school": student.school})
        data.is_valid(raise_exception=True)
        student_update(actor=Actor(user=request.user, source=AuditEvent.Source.API), student=student, data=data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=student.pk)).data)

    def _school_to_write(self, request) -> School:
        """The school a new student goes to: the one named (in scope), or the coordinator's own."""
        schools = School.objects.visible_to(request.user).select_related("office")
        raw = request.data.get("school") if isinstance(request.data, Mapping) else None
        if raw in (None, ""):
            membership = membership_of(request.user)
            if membership is not None and membership.role == Role.COORDINATOR and membership.school_id:
                return get_object_or_404(schools, pk=membership.school_id)
            raise ValidationError({"school": ValidationError(_("请指定学校（school，学校编号）。"), code="required")})
        if isinstance(raw, bool) or not re.fullmatch(r"[0-9]{1,9}", str(raw)):
            raise ValidationError({"school": ValidationError(_("school 应为学校编号（正整数）。"), code="invalid")})
        return get_object_or_404(schools, pk=int(raw))

    def list(self, request, *args, **kwargs):
        # A school's own systems poll its list; each page is rendered once per change
        # of the school's students and served from the cache in between.
        key = self._list_cache_key(request)
        if key is None:
            return super().list(request, *args, **kwargs)
        cached = cache.get(key)
        if cached is not None:
            content_type, body = cached
            return HttpResponse(body, content_type=content_type)
        response = super().list(request, *args, **kwargs)
        if response.status_code == 200:
            response.add_post_render_callback(
                lambda rendered: cache.set(key, (rendered["Content-Type"], rendered.content), settings.STUDENT_LIST_CACHE_SECONDS)
            )
        return response

    def _list_cache_key(self, request) -> str | None:
        # Only a coordinator's list is the same for every caller who may see it: one
        # school, masked numbers. Staff see many schools (and may ask for full numbers,
        # which is logged per request); the browsable API carries the caller's name.
        membership = membership_of(request.user)
        if request.user.is_superuser or membership is None or membership.role != Role.COORDINATOR or not membership.school_id:
            return None
        if self.wants_full_identity() or getattr(request.accepted_renderer, "format", None) != "json":
            return None
        return student_list_cache_key(school=membership.school, url=request.build_absolute_uri())


class InsuranceYearViewSet(ScopedReadOnlyViewSet):
    """Insurance years of the cities the caller can see (a year has no school, so its city decides)."""

    serializer_class = s.InsuranceYearSerializer
    filterset_class = InsuranceYearFilter
    ordering_fields = ["label", "window_start", "window_end"]
    ordering = ["city_id", "-window_start"]

    def get_queryset(self):
        return InsuranceYear.objects.visible_to(self.request.user).select_related("city")


class RosterViewSet(ScopedReadOnlyViewSet):
    model = Roster
    serializer_class = s.RosterSerializer
    filterset_class = RosterFilter
    ordering_fields = ["updated_at", "state", "id"]
    ordering = ["insurance_year_id", "school_id"]

    def get_queryset(self):
        return super().get_queryset().select_related("school", "insurance_year")

    def get_permissions(self):
        if self.action in {"confirm", "confirm_supplementary"}:
            return [IsCoordinator()]
        return super().get_permissions()

    @extend_schema(
        summary="Late students awaiting the supplementary confirmation: count x fee, and the students (numbers masked)",
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def supplementary(self, request, pk=None):
        from enrollment.selectors import supplementary_preview

        roster = self.get_object()
        return Response(jsonable(supplementary_preview(roster=roster)))

    @extend_schema(
        summary="Confirm the late students of a confirmed or billed roster: a supplementary charge in the next billing run",
        request=s.RosterConfirmSerializer,
        responses={200: s.RosterSerializer, 409: OpenApiTypes.OBJECT},
        description="Same tick and version as the first confirmation. Nothing to confirm, window closed, or already "
        "confirmed give 409 with the reason in Chinese.",
    )
    @action(detail=True, methods=["post"], url_path="confirm-supplementary")
    def confirm_supplementary(self, request, pk=None):
        from enrollment.services.rosters import roster_confirm_supplementary

        roster = self.get_object()
        data = s.RosterConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        roster_confirm_supplementary(
            actor=Actor(user=request.user, source=AuditEvent.Source.API),
            roster=roster,
            checked=data.validated_data["checked"],
            expected_version=data.validated_data.get("expected_version"),
        )
        roster.refresh_from_db()
        return Response(self.get_serializer(roster).data)

    @extend_schema(
        summary="What confirming the roster would charge: count x fee, exempt, other channels, suspected graduates",
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        from enrollment.selectors import roster_preview

        roster = self.get_object()
        return Response(jsonable(roster_preview(roster=roster)))

    @extend_schema(
        summary="Confirm the roster: freezes the snapshot that billing charges",
        request=s.RosterConfirmSerializer,
        responses={200: s.RosterSerializer, 409: OpenApiTypes.OBJECT},
        description="Only the school's coordinator confirms; window closed or roster already confirmed give 409.",
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        from enrollment.services.rosters import roster_confirm

        roster = self.get_object()
        data = s.RosterConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        roster_confirm(
            actor=Actor(user=request.user, source=AuditEvent.Source.API),
            roster=roster,
            checked=data.validated_data["checked"],
            expected_version=data.validated_data.get("expected_version"),
            suspected_acknowledged=data.validated_data.get("suspected_acknowledged"),
        )
        roster.refresh_from_db()
        return Response(self.get_serializer(roster).data)


@extend_schema_view(list=extend_schema(parameters=[FULL_PARAMETER]), retrieve=extend_schema(parameters=[FULL_PARAMETER]))
class EnrollmentViewSet(FullIdentityMixin, ScopedReadOnlyViewSet):
    model = Enrollment
    serializer_class = s.EnrollmentSerializer
    filterset_class = EnrollmentFilter
    ordering_fields = ["created_at", "updated_at", "paid_at", "id"]
    ordering = ["school_id", "id"]

    def get_queryset(self):
        return super().get_queryset().select_related("student", "insurance_year")


@extend_schema_view(list=extend_schema(parameters=[FULL_PARAMETER]), retrieve=extend_schema(parameters=[FULL_PARAMETER]))
class ExemptionViewSet(FullIdentityMixin, viewsets.ReadOnlyModelViewSet):
    """The exemption register (R7): bureau staff only; it is keyed by identity number, not by school."""

    permission_classes = [IsBureauStaff]
    serializer_class = s.ExemptionSerializer
    filterset_class = ExemptionFilter
    ordering_fields = ["created_at", "valid_from", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if not is_bureau_staff(self.request.user):
            return Exemption.objects.none()
        # The register belongs to the city of its categories: another city's rows are not found.
        return Exemption.objects.visible_to(self.request.user).select_related("category")


@extend_schema_view(list=extend_schema(parameters=[FULL_PARAMETER]), retrieve=extend_schema(parameters=[FULL_PARAMETER]))
class CitizenCardViewSet(FullIdentityMixin, ScopedReadOnlyViewSet):
    model = CitizenCard
    serializer_class = s.CitizenCardSerializer
    filterset_class = CitizenCardFilter
    ordering_fields = ["state", "photo_uploaded_at", "sent_at", "id"]
    ordering = ["id"]

    def get_queryset(self):
        return super().get_queryset().select_related("student")

    def get_permissions(self):
        if self.action in {"ready", "picked_up"}:
            return [IsBureauStaff()]
        return super().get_permissions()

    @extend_schema(summary="The card is made and waits at the school", request=None, responses={200: s.CitizenCardSerializer})
    @action(detail=True, methods=["post"])
    def ready(self, request, pk=None):
        from enrollment.services.cards import card_mark_ready

        card = self.get_object()
        card_mark_ready(actor=Actor(user=request.user, source=AuditEvent.Source.API), card=card)
        card.refresh_from_db()
        return Response(self.get_serializer(card).data)

    @extend_schema(summary="The student has picked the card up", request=s.CardPickupSerializer, responses={200: s.CitizenCardSerializer})
    @action(detail=True, methods=["post"], url_path="picked-up")
    def picked_up(self, request, pk=None):
        from enrollment.services.cards import card_mark_picked_up

        card = self.get_object()
        data = s.CardPickupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card_mark_picked_up(
            actor=Actor(user=request.user, source=AuditEvent.Source.API),
            card=card,
            picked_up_on=data.validated_data.get("picked_up_on"),
        )
        card.refresh_from_db()
        return Response(self.get_serializer(card).data)


class CoverageView(APIView):
    """R13: is this student covered in the year, from when to when, and if not why not."""

    permission_classes = [SystemReadOnly]
    serializer_class = s.CoverageSerializer

    @extend_schema(
        summary="Look up a student's coverage",
        parameters=[
            OpenApiParameter("identity_number", OpenApiTypes.STR, OpenApiParameter.PATH, description="18-character identity number"),
            OpenApiParameter("year", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description="Insurance year label; default the current year"),
        ],
        responses={200: s.CoverageSerializer},
    )
    def get(self, request, identity_number):
        from enrollment.selectors_coverage import student_coverage
        from enrollment.services.common import current_insurance_year

        try:
            number = identity.validate(identity_number)
        except ValidationError as exc:
            raise ValidationError({"identity_number": exc}) from exc
        # Scoping first: a student outside the caller's schools does not exist for them.
        student = get_object_or_404(
            Student.objects.visible_to(request.user).select_related("school__office"), identity_number=number
        )
        city_id = student.school.office.city_id
        label = request.query_params.get("year", "").strip()
        if label:
            year = InsuranceYear.objects.filter(city_id=city_id, label=label).first()
            if year is None:
                raise ValidationError(
                    {"year": ValidationError(_("参保年度“%(label)s”不存在。") % {"label": label[:20]}, code="unknown_year")}
                )
        else:
            year = current_insurance_year(city_id=city_id)
            if year is None:
                raise ValidationError({"year": ValidationError(_("尚未设置参保年度。"), code="unknown_year")})
        answer = student_coverage(student=student, insurance_year=year)
        return Response(s.CoverageSerializer(coverage_payload(answer, number=number, year=year)).data)


def coverage_payload(answer, *, number: str, year: InsuranceYear) -> dict:
    """The selector's answer in the API's shape: the period only when the student is covered."""
    return {
        "identity_number": identity.mask(number),
        "insurance_year": year.label,
        "covered": answer.covered,
        "coverage_start": answer.covered_from,
        "coverage_end": answer.covered_to,
        "reason_code": answer.reason_code,
        "reason": str(answer.reason),
        "channel": answer.channel,
    }


def jsonable(value):
    """Selector results (dataclasses, models, decimals, dates) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | models.QuerySet):
        return [jsonable(v) for v in value]
    if isinstance(value, Student):
        return {"id": value.pk, "name": value.name, "identity_number": identity.mask(value.identity_number)}
    if isinstance(value, Enrollment):
        return {
            "id": value.pk,
            "student": value.student_id,
            "name": value.student.name,
            "identity_number": identity.mask(value.student.identity_number),
            "fee_due": str(value.fee_due),
            "channel": value.channel,
        }
    if isinstance(value, models.Model):
        return {"id": value.pk, "label": str(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.register("schools", SchoolViewSet, basename="school")
router.register("students", StudentViewSet, basename="student")
router.register("insurance-years", InsuranceYearViewSet, basename="insurance-year")
router.register("rosters", RosterViewSet, basename="roster")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("exemptions", ExemptionViewSet, basename="exemption")
router.register("cards", CitizenCardViewSet, basename="card")

urlpatterns = [
    path("coverage/<str:identity_number>", CoverageView.as_view(), name="coverage"),
    path("", include(router.urls)),
]
