"""Callers are loaded with their scope (membership, school, office) in the same query as the user."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from knox.models import AuthToken

from tests.factories import login


def _membership_lookups(queries) -> list[str]:
    """Queries that read the caller's membership on their own, after the user was loaded."""
    return [q["sql"] for q in queries if 'FROM "enrollment_membership"' in q["sql"]]


def test_portal_page_reads_the_coordinators_school_with_the_user(client, world):
    login(client, world.coordinator)
    client.get(reverse("portal:home"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("portal:contacts"))
    assert response.status_code == 200
    assert world.school.office.name in response.content.decode()
    assert _membership_lookups(queries) == []


def test_api_token_caller_is_loaded_with_their_scope(client, world):
    _token, text = AuthToken.objects.create(user=world.coordinator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/students", HTTP_AUTHORIZATION=f"Token {text}")
    assert response.status_code == 200
    assert _membership_lookups(queries) == []


def test_token_of_a_deactivated_user_is_refused(client, world):
    _token, text = AuthToken.objects.create(user=world.coordinator)
    world.coordinator.is_active = False
    world.coordinator.save()
    response = client.get("/api/v1/students", HTTP_AUTHORIZATION=f"Token {text}")
    # Refused as unauthenticated: 403 because the first authenticator (the session) names no challenge.
    assert response.status_code == 403 and "results" not in response.json()


def test_unknown_token_is_refused(client, world):
    response = client.get("/api/v1/students", HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert response.status_code == 403 and "results" not in response.json()


def test_deactivated_user_session_ends(client, world):
    login(client, world.coordinator)
    world.coordinator.is_active = False
    world.coordinator.save()
    response = client.get(reverse("portal:roster"))
    assert response.status_code == 302 and "login" in response["Location"]
