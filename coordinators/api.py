"""The coordinator registry (R4) over the API: read-only, scoped like every other list."""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from coordinators.models import Coordinator
from enrollment.api.permissions import SystemReadOnly
from enrollment.models import Sex


# Inline so the schema does not name the students' sex choices twice (SexEnum and GenderEnum).
@extend_schema_field({"type": "string", "enum": list(Sex.values), "description": "M male, F female"})
class GenderField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Sex.choices, **kwargs)


class CoordinatorSerializer(serializers.ModelSerializer):
    school_name = serializers.CharField(source="school.name", read_only=True)
    gender = GenderField(read_only=True)
    # Not format "email": the registry allows a coordinator without one, and "" is no e-mail address.
    email = serializers.CharField(read_only=True, help_text="E-mail address, empty when none was given.")

    class Meta:
        model = Coordinator
        fields = [
            "id", "school", "school_name", "name", "gender", "department", "post", "work_phone", "mobile", "email",
            "active", "registered_at", "updated_at",
        ]
        read_only_fields = fields


class CoordinatorFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Coordinator
        fields = ["school", "active", "name"]


class CoordinatorViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [SystemReadOnly]
    serializer_class = CoordinatorSerializer
    filterset_class = CoordinatorFilter
    ordering_fields = ["name", "registered_at", "id"]
    ordering = ["school_id", "name", "id"]

    def get_queryset(self):
        return Coordinator.objects.visible_to(self.request.user).select_related("school")
