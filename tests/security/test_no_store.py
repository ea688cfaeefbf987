"""Answers that carry personal data are never kept by a browser or proxy cache."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import StudentFactory

BACKEND = "enrollment.auth.MembershipBackend"


def no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives and "public" not in directives


@pytest.fixture
def api(world):
    def client_for(user):
        client = APIClient()
        if user is not None:
            _token, text = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {text}")
        return client

    return client_for


@pytest.mark.parametrize("url", ["/students/", "/roster/", "/"])
def test_coordinator_pages_are_private_and_not_stored(client, world, url):
    StudentFactory(school=world.school)
    client.force_login(world.coordinator, backend=BACKEND)
    response = client.get(url, secure=True)
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


def test_bureau_pages_are_private_and_not_stored(client, world):
    client.force_login(world.city_staff, backend=BACKEND)
    response = client.get("/bureau/", secure=True)
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


def test_api_answers_are_private_and_not_stored_for_a_token_and_for_errors(world, api):
    StudentFactory(school=world.school)
    client = api(world.coordinator)
    assert no_store(client.get("/api/v1/students", secure=True))
    assert no_store(client.get("/api/v1/students/0", secure=True))
    assert no_store(api(None).get("/api/v1/students", secure=True))


def test_a_cached_api_list_page_is_not_stored_either(world, api, settings):
    settings.STUDENT_LIST_CACHE_SECONDS = 60
    StudentFactory(school=world.school)
    client = api(world.coordinator)
    client.get("/api/v1/students", secure=True)
    again = client.get("/api/v1/students", secure=True)
    assert again.status_code == 200 and no_store(again)


@pytest.mark.django_db
def test_static_files_stay_cacheable(client):
    response = client.get("/static/css/portal.css", secure=True)
    assert not no_store(response)
