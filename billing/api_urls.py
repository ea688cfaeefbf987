"""Billing endpoints under /api/v1/: batches (bureau staff), instructions and declarations (scoped), payment recording.

Querysets start from the same scoping as everywhere else: a coordinator sees
only the school's own instructions and declarations; another school's is a 404.
"""

from django.shortcuts import get_object_or_404
from django.urls import include, path
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from billing import services
from billing.models import DebitBatch, DebitInstruction, Declaration
from billing.views import visible_batches
from enrollment.api.permissions import IsBureauStaff, SystemReadOnly
from enrollment.services.common import Actor


class DebitBatchSerializer(serializers.ModelSerializer):
    bank = serializers.CharField(source="bank.code")
    insurance_year = serializers.CharField(source="insurance_year.label")

    class Meta:
        model = DebitBatch
        fields = ["id", "reference", "bank", "insurance_year", "state", "file_format", "line_count", "total_amount",
                  "checksum", "error", "succeeded_count", "failed_count", "created_at", "results_imported_at"]


class DebitInstructionSerializer(serializers.ModelSerializer):
    school = serializers.CharField(source="school.code")
    batch = serializers.CharField(source="batch.reference", default=None)

    class Meta:
        model = DebitInstruction
        fields = ["id", "reference", "kind", "school", "head_count", "amount", "state", "tries", "last_failure", "batch",
                  "created_at", "settled_at"]


class DeclarationSerializer(serializers.ModelSerializer):
    school = serializers.CharField(source="school.code")
    insurance_year = serializers.CharField(source="insurance_year.label")

    class Meta:
        model = Declaration
        fields = ["id", "reference", "school", "insurance_year", "state", "head_count", "amount", "payment_method",
                  "paid_at", "receipted_count", "created_at"]


class PaymentSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Declaration.PaymentMethod.choices)
    paid_at = serializers.DateTimeField(required=False)


class DebitBatchViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DebitBatchSerializer
    permission_classes = [IsAuthenticated, IsBureauStaff]
    filterset_fields = ["state", "insurance_year"]

    def get_queryset(self):
        return visible_batches(self.request.user).select_related("bank", "insurance_year").order_by("-created_at")


class DebitInstructionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DebitInstructionSerializer
    permission_classes = [IsAuthenticated, SystemReadOnly]
    filterset_fields = ["state", "kind", "insurance_year"]

    def get_queryset(self):
        return DebitInstruction.objects.visible_to(self.request.user).select_related("school", "batch").order_by("-created_at")


class DeclarationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DeclarationSerializer
    permission_classes = [IsAuthenticated, SystemReadOnly]
    filterset_fields = ["state", "insurance_year"]

    def get_queryset(self):
        return Declaration.objects.visible_to(self.request.user).select_related("school", "insurance_year").order_by("-created_at")


class DeclarationPaymentView(APIView):
    """POST /api/v1/declarations/<id>/payment: bureau staff record how the school paid."""

    permission_classes = [IsAuthenticated, IsBureauStaff]
    serializer_class = PaymentSerializer

    def post(self, request, pk):
        declaration = get_object_or_404(Declaration.objects.visible_to(request.user), pk=pk)
        data = PaymentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A refused payment (already paid, no debit agreement) raises ValidationError: the shared handler answers 400.
        updated = services.declaration_record_payment(
            declaration=declaration, method=data.validated_data["method"], paid_at=data.validated_data.get("paid_at"),
            actor=Actor(user=request.user, source="api"),
        )
        return Response(DeclarationSerializer(updated).data)


router = SimpleRouter()
router.register("debit-batches", DebitBatchViewSet, basename="debit-batch")
router.register("debit-instructions", DebitInstructionViewSet, basename="debit-instruction")
router.register("declarations", DeclarationViewSet, basename="declaration")

urlpatterns = [
    path("declarations/<int:pk>/payment", DeclarationPaymentView.as_view(), name="declaration-payment"),
    path("", include(router.urls)),
]
