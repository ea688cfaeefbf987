"""API representations. Identity numbers are masked unless the view asked for the full number."""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from enrollment import identity, rules
from enrollment.models import (
    CitizenCard,
    Enrollment,
    Exemption,
    InsuranceYear,
    Roster,
    School,
    Student,
)


@extend_schema_field(OpenApiTypes.STR)
class IdentityNumberField(serializers.Field):
    """Masked (``**************1234``) unless the serializer context carries ``full_identity``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return represent_identity(value, self.context)


def represent_identity(value: str, context: dict) -> str:
    return value if context.get("full_identity") else identity.mask(value)


class StudentInputSerializer(serializers.Serializer):
    """A student sent to the API: every field goes through ``enrollment.rules``, as in the portal, the admin and the import.

    The context carries the ``school`` (its last grade bounds the grade). The
    fields accept anything so that DRF's own checks never give a verdict of
    their own; ``validated_data`` holds the normalised values. An update
    (``instance`` given, ``partial=True``) may send only the fields it changes:
    the student's other values are checked with them, as the portal form does.
    A field the API does not know is refused by name, never ignored.
    """

    school = serializers.IntegerField(
        required=False, write_only=True,
        help_text="Creating: the school's id (GET /api/v1/schools). A coordinator may leave it out (their own school); "
                  "bureau staff must give a school of their district or city. An update cannot move a student.",
    )
    document_type = serializers.CharField(required=False, allow_blank=True, help_text="Blank: taken from the number.")
    identity_number = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    sex = serializers.CharField(required=False, allow_blank=True, help_text="男/女 (M/F); blank: taken from the number.")
    birth_date = serializers.CharField(required=False, allow_blank=True, help_text="2012-04-01; blank: taken from the number.")
    grade = serializers.CharField(required=False, allow_blank=True)
    class_name = serializers.CharField(required=False, allow_blank=True)
    hukou_local = serializers.BooleanField(required=False)
    hukou_rural = serializers.BooleanField(required=False)
    medical_assistance = serializers.CharField(required=False, allow_blank=True)
    public_funded_care = serializers.BooleanField(required=False)
    has_citizen_card = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key[:50]: [serializers.ErrorDetail(_("不支持的字段“%(name)s”。") % {"name": key[:50]}, code="unknown_field")]
                     for key in unknown[:20]}
                )
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs.pop("school", None)  # the view has chosen the school (context) before validating
        if self.instance is not None:
            from enrollment.services.students import with_current_values

            attrs = with_current_values(student=self.instance, data=attrs)
        values, errors = rules.check_student(attrs, final_grade=self.context["school"].final_grade)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return values


class SchoolSerializer(serializers.ModelSerializer):
    office_name = serializers.CharField(source="office.name", read_only=True)
    district = serializers.CharField(source="office.district", read_only=True)

    class Meta:
        model = School
        fields = ["id", "code", "name", "kind", "office", "office_name", "district", "is_local", "is_agent", "final_grade", "active"]
        read_only_fields = fields


class StudentSerializer(serializers.ModelSerializer):
    identity_number = IdentityNumberField()
    school_name = serializers.CharField(source="school.name", read_only=True)

    class Meta:
        model = Student
        fields = [
            "id", "document_type", "identity_number", "name", "sex", "birth_date", "hukou_local", "hukou_rural",
            "medical_assistance", "public_funded_care", "school", "school_name", "grade", "class_name",
            "status", "status_changed_on", "has_citizen_card",
        ]
        read_only_fields = fields

    def to_representation(self, student):
        # The student list is the API's busiest read: DRF's field-by-field path cost as much
        # as the rest of the request for a 50-row page, building the fields once a request
        # included. Same output (a test compares both).
        return {
            "id": student.pk,
            "document_type": student.document_type,
            "identity_number": represent_identity(student.identity_number, self.context),
            "name": student.name,
            "sex": student.sex,
            "birth_date": _iso(student.birth_date),
            "hukou_local": student.hukou_local,
            "hukou_rural": student.hukou_rural,
            "medical_assistance": student.medical_assistance,
            "public_funded_care": student.public_funded_care,
            "school": student.school_id,
            "school_name": student.school.name,
            "grade": student.grade,
            "class_name": student.class_name,
            "status": student.status,
            "status_changed_on": _iso(student.status_changed_on),
            "has_citizen_card": student.has_citizen_card,
        }


def _iso(day):
    return day.isoformat() if day is not None else None


class InsuranceYearSerializer(serializers.ModelSerializer):
    city_code = serializers.CharField(source="city.code", read_only=True)
    window_open = serializers.SerializerMethodField()

    class Meta:
        model = InsuranceYear
        fields = [
            "id", "city", "city_code", "label", "coverage_start", "coverage_end", "fee_standard", "fee_provisional",
            "window_start", "window_end", "window_open", "collection_route", "coordinator_deadline",
        ]
        read_only_fields = fields

    def get_window_open(self, obj) -> bool:
        return obj.window_is_open()


class RosterSerializer(serializers.ModelSerializer):
    school_name = serializers.CharField(source="school.name", read_only=True)
    insurance_year_label = serializers.CharField(source="insurance_year.label", read_only=True)

    class Meta:
        model = Roster
        fields = ["id", "school", "school_name", "insurance_year", "insurance_year_label", "state", "version", "updated_at"]
        read_only_fields = fields


class RosterConfirmSerializer(serializers.Serializer):
    checked = serializers.BooleanField(help_text="The coordinator has checked the list and removed graduates.")
    expected_version = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Roster version shown in the preview."
    )
    suspected_acknowledged = serializers.IntegerField(
        required=False, allow_null=True, min_value=0,
        help_text="How many suspected graduates the coordinator keeps on the paying list; required when there are any.",
    )


class EnrollmentSerializer(serializers.ModelSerializer):
    identity_number = IdentityNumberField(source="student.identity_number")
    student_name = serializers.CharField(source="student.name", read_only=True)
    insurance_year_label = serializers.CharField(source="insurance_year.label", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id", "student", "student_name", "identity_number", "insurance_year", "insurance_year_label", "school",
            "channel", "channel_reason", "status", "status_reason", "fee_due", "exemption_category",
            "payment_status", "paid_at", "receipt_number", "created_at", "updated_at",
        ]
        read_only_fields = fields


class ExemptionSerializer(serializers.ModelSerializer):
    identity_number = IdentityNumberField()
    category_name = serializers.CharField(source="category.name", read_only=True)

    class Meta:
        model = Exemption
        fields = ["id", "identity_number", "name", "category", "category_name", "source", "valid_from", "valid_to", "created_at"]
        read_only_fields = fields


class CitizenCardSerializer(serializers.ModelSerializer):
    identity_number = IdentityNumberField(source="student.identity_number")
    student_name = serializers.CharField(source="student.name", read_only=True)
    school = serializers.IntegerField(source="student.school_id", read_only=True)
    has_photo = serializers.SerializerMethodField()

    class Meta:
        model = CitizenCard
        fields = [
            "id", "student", "student_name", "identity_number", "school", "state", "has_photo",
            "photo_uploaded_at", "sent_at", "picked_up_on",
        ]
        read_only_fields = fields

    def get_has_photo(self, obj) -> bool:
        return bool(obj.photo)


class CardPickupSerializer(serializers.Serializer):
    picked_up_on = serializers.DateField(required=False, allow_null=True)


class CoverageSerializer(serializers.Serializer):
    identity_number = serializers.CharField(help_text="Masked identity number.")
    insurance_year = serializers.CharField()
    covered = serializers.BooleanField()
    coverage_start = serializers.DateField(allow_null=True)
    coverage_end = serializers.DateField(allow_null=True)
    reason_code = serializers.CharField(allow_blank=True, help_text=(
        "Blank when covered, else the state: not_enrolled, stopped, unpaid, billed, awaiting_confirmation, paid_late, "
        "refunded, other_channel, public_funded (enrollment.selectors_coverage.COVERAGE_STATES)"
    ))
    reason = serializers.CharField(allow_blank=True)
    channel = serializers.CharField(allow_blank=True)
