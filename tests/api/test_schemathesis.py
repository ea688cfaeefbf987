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


# --- Every operation, valid and invalid requests, as each kind of caller ----------------------------------

from schemathesis.generation import GenerationMode  # noqa: E402

from tests.factories import make_user  # noqa: E402


@pytest.fixture
def tokens(world, city_token, settings, tmp_path):
    """A token per kind of caller: city staff, the school's coordinator, the school-roll system."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    feeds = make_user("system-feeds", role="system", city=world.city, system_scope="graduate_feeds")
    return {
        "city_staff": city_token,
        "coordinator": AuthToken.objects.create(user=world.coordinator)[1],
        "graduate_feeds": AuthToken.objects.create(user=feeds)[1],
    }


def _exercise(operation, mode, headers, checks):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=3, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def exercise(case):
        case.call_and_validate(headers=headers, checks=checks)

    exercise()


def callers_of(path: str) -> tuple[str, ...]:
    """Who calls an operation: the feed door its system; the rest staff and coordinators (each in its scope)."""
    if path.startswith("/api/v1/graduate-feeds"):
        return ("graduate_feeds", "city_staff")
    return ("city_staff", "coordinator")


@pytest.mark.django_db
def test_every_operation_answers_valid_and_invalid_requests_without_a_server_error(api_schema, tokens, monkeypatch):
    """Positive cases must also match the documented responses; negative ones (wrong types, missing fields,
    values outside the schema, in every parameter and body, uploads included) must be refused, never a 500."""
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/min", "anon": "100000/min"})
    operations = [result.ok() for result in api_schema.get_all_operations()]
    paths = {op.path for op in operations}
    # Every endpoint, the uploads (student import, graduate feeds) and the billing ones included.
    assert {"/api/v1/graduate-feeds/", "/api/v1/schools/{code}/students/import", "/api/v1/debit-batches/"} <= paths
    walked = set()
    for operation in operations:
        for caller in callers_of(operation.path):
            headers = {"Authorization": f"Token {tokens[caller]}"}
            for mode, checks in (
                (GenerationMode.POSITIVE, [not_a_server_error, response_schema_conformance]),
                (GenerationMode.NEGATIVE, [not_a_server_error]),
            ):
                _exercise(operation, mode, headers, checks)
        walked.add(operation.label)
    assert walked == {op.label for op in operations}
