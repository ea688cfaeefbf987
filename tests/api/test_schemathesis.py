"""Property-based run of the OpenAPI schema against the app: no server errors, responses match the schema."""

import datetime
import re

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error, response_schema_conformance

from config.wsgi import application
from coordinators.models import Coordinator
from enrollment.models import CitizenCard, Exemption, ExemptionCategory, ExemptionSource, PaymentStatus
from tests.api.data import enroll, school_with_students
from tests.factories import StudentFactory, identity_number


@pytest.fixture
def api_schema(settings):
    # The WSGI transport calls the app as "localhost".
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    # As Django's test client does: the test's transaction must outlive each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# The endpoints of this module; other areas' endpoints have their own tests.
OWN_PATHS = re.compile(r"^/api/v1/(schools|students|insurance-years|rosters|enrollments|exemptions|cards|coverage|coordinators|transfers)\b")


@pytest.fixture
def city_token(world):
    students = school_with_students(world.school, world.year, paid=2, unpaid=1)
    school_with_students(world.other_school, world.year, paid=1)
    CitizenCard.objects.create(student=students[0])
    enroll(StudentFactory(school=world.school), world.year, payment_status=PaymentStatus.FUNDED)
    category, _ = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保"})
    Exemption.objects.create(
        identity_number=identity_number(), category=category, source=ExemptionSource.CIVIL_AFFAIRS,
        valid_from=datetime.date(2026, 1, 1),
    )
    Coordinator.objects.create(
        school=world.school, name="李老师", gender="F", department="教务处", post="干事", work_phone="020-1234567",
        mobile="13800138000",
    )
    return AuthToken.objects.create(user=world.city_staff)[1]


@pytest.mark.django_db
def test_api_answers_every_generated_request_without_server_errors(api_schema, city_token):
    headers = {"Authorization": f"Token {city_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations = [op for op in operations if OWN_PATHS.match(op.path)]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        exercise()
