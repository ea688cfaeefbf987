"""django-filter sets of the core endpoints. Filters narrow an already scoped queryset, never widen it."""

import django_filters

from enrollment.models import CitizenCard, Enrollment, Exemption, InsuranceYear, Roster, School, Student


class SchoolFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = School
        fields = ["kind", "office", "active", "is_agent", "name"]


class StudentFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    identity_number = django_filters.CharFilter(method="filter_identity_number", label="identity number (exact)")

    class Meta:
        model = Student
        fields = ["school", "grade", "class_name", "status", "has_citizen_card", "name"]

    def filter_identity_number(self, queryset, name, value):
        from enrollment import identity

        return queryset.filter(identity_number=identity.normalize(value))


class InsuranceYearFilter(django_filters.FilterSet):
    class Meta:
        model = InsuranceYear
        fields = ["city", "label", "collection_route"]


class RosterFilter(django_filters.FilterSet):
    class Meta:
        model = Roster
        fields = ["school", "insurance_year", "state"]


class EnrollmentFilter(django_filters.FilterSet):
    class Meta:
        model = Enrollment
        fields = ["school", "insurance_year", "student", "channel", "status", "payment_status"]


class ExemptionFilter(django_filters.FilterSet):
    valid_on = django_filters.DateFilter(method="filter_valid_on", label="valid on date")

    class Meta:
        model = Exemption
        fields = ["category", "source"]

    def filter_valid_on(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=value), valid_from__lte=value)


class CitizenCardFilter(django_filters.FilterSet):
    school = django_filters.NumberFilter(field_name="student__school")

    class Meta:
        model = CitizenCard
        fields = ["state", "school"]
