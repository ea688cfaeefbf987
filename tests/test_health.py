"""/health/ tells the load balancer whether the database and Redis answer, without log-in or personal data."""

import pytest
from django.db import OperationalError
from django.test import Client


@pytest.mark.django_db
def test_health_is_ok_without_log_in_when_database_and_redis_answer(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_health_is_503_with_json_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["redis"] == {"status": "error", "error": "ConnectionError"}
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_down(client, monkeypatch):
    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr("config.health._check_database", refuse)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert b"connection refused" not in response.content


@pytest.mark.django_db
def test_health_answers_plain_http_probes_while_pages_redirect_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/health/").status_code == 200
    assert client.get("/admin/login/").status_code == 301
