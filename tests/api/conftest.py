import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_user


@pytest.fixture
def api(world):
    """An API client logged in as a persona: ``api(world.coordinator)``; ``api(None)`` is anonymous."""

    def client_for(user):
        client = APIClient()
        if user is not None:
            _token, text = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {text}")
        return client

    return client_for


@pytest.fixture
def feed_system(world):
    return make_user("school-roll-system", role="system", system_scope="graduate_feeds", city=world.city)


@pytest.fixture
def read_all_system(world):
    return make_user("query-system", role="system", system_scope="read_all", city=world.city)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas' passwords are hashed with the cheapest hasher: the slow one is not under test here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
