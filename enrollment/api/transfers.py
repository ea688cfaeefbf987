"""Transfers between schools under /api/v1/transfers: the same services and scoping as the portal.

A coordinator sees the transfers into and out of their school (name and masked number only); bureau staff those
whose old school is in their scope. The new school's coordinator requests; the old school's coordinator, or staff
over it, accepts or refuses with a reason. System tokens have no access.
"""

from django.db.models import Q
from django.urls import include, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from enrollment import identity
from enrollment.api.permissions import IsCoordinator, is_system
from enrollment.models import AuditEvent, Role, Transfer
from enrollment.querysets import membership_of
from enrollment.services import transfers as service
from enrollment.services.common import Actor


class TransferSerializer(serializers.ModelSerializer):
    student_name = serializers.CharField(source="student.name", read_only=True)
    identity_number_masked = serializers.SerializerMethodField()
    from_school_name = serializers.CharField(source="from_school.name", read_only=True)
    to_school_name = serializers.CharField(source="to_school.name", read_only=True)
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = Transfer
        fields = ["id", "student_name", "identity_number_masked", "insurance_year", "from_school", "from_school_name",
                  "to_school", "to_school_name", "state", "note", "requested_at", "decided_at", "refusal_reason", "outcome"]
        read_only_fields = fields

    def get_identity_number_masked(self, obj) -> str:
        return identity.mask(obj.student.identity_number)

    def get_outcome(self, obj) -> str:
        return service.transfer_outcome_text(obj)


class TransferRequestSerializer(serializers.Serializer):
    identity_number = serializers.CharField(max_length=40, help_text="Identity number of the student moving in.")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TransferRefuseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Why the old school refuses; the new school reads it.")


class PeopleOnly(BasePermission):
    """Coordinators and bureau staff; machines have nothing to do with transfers."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and not is_system(request.user))


@extend_schema_view(
    list=extend_schema(summary="Transfers into and out of the caller's school (coordinators) or scope (staff)"),
    retrieve=extend_schema(summary="One transfer"),
)
class TransferViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TransferSerializer
    permission_classes = [PeopleOnly]
    ordering_fields = ["requested_at", "id"]
    ordering = ["-requested_at", "-id"]
    filterset_fields = ["state"]

    def get_queryset(self):
        user = self.request.user
        membership = membership_of(user)
        from enrollment.selectors_changes import transfers_with_outcome

        base = transfers_with_outcome(Transfer.objects.all())
        if membership is not None and membership.role == Role.COORDINATOR:
            return base.filter(Q(from_school_id=membership.school_id) | Q(to_school_id=membership.school_id))
        return base.filter(pk__in=Transfer.objects.visible_to(user).values("pk"))

    def get_permissions(self):
        if self.action == "create":
            return [PeopleOnly(), IsCoordinator()]
        return super().get_permissions()

    def _actor(self):
        return Actor(user=self.request.user, source=AuditEvent.Source.API)

    @extend_schema(summary="The new school's coordinator requests a student of another school of the city",
                   request=TransferRequestSerializer, responses={201: TransferSerializer, 400: OpenApiTypes.OBJECT})
    def create(self, request):
        data = TransferRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = service.transfer_request(actor=self._actor(), to_school=membership_of(request.user).school,
                                            identity_number=data.validated_data["identity_number"],
                                            note=data.validated_data["note"])
        return Response(self.get_serializer(transfer).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The old school (or staff over it) accepts: the student and the year's enrollment move",
                   request=None, responses={200: TransferSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        transfer = service.transfer_accept(actor=self._actor(), transfer=self.get_object())
        return Response(self.get_serializer(transfer).data)

    @extend_schema(summary="The old school (or staff over it) refuses, with a reason",
                   request=TransferRefuseSerializer, responses={200: TransferSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        transfer = self.get_object()
        if not service.can_decide(user=request.user, transfer=transfer):  # before reading the input: the asking school learns nothing
            raise PermissionDenied()
        data = TransferRefuseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = service.transfer_refuse(actor=self._actor(), transfer=transfer, reason=data.validated_data["reason"])
        return Response(self.get_serializer(transfer).data)


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.register("transfers", TransferViewSet, basename="transfer")
urlpatterns = [path("", include(router.urls))]
