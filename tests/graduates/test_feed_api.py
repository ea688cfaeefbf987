import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken
from rest_framework.test import APIClient

from graduates.models import GraduateFeed
from tests.factories import identity_number, login, make_user
from tests.graduates.conftest import csv_bytes

URL = "/api/v1/graduate-feeds/"

MODEL_BACKEND = "enrollment.auth.MembershipBackend"




@pytest.fixture
def feed_system(world):
    return make_user("school-roll-system", role="system", system_scope="graduate_feeds")


def _client(user) -> APIClient:
    client = APIClient()
    _token, text = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {text}")
    return client


def _records():
    return [{"identity_number": identity_number(), "name": "张三", "school_code": "GZ-YX-001", "graduation_date": "2026-06-30"}]


def test_school_roll_system_posts_json_records(feed_system):
    response = _client(feed_system).post(URL, {"source": "school_roll", "records": _records()}, format="json")
    assert response.status_code == 201, response.content
    feed = GraduateFeed.objects.get(pk=response.json()["id"])
    assert (feed.received_via, feed.received_by, feed.record_count) == ("api", feed_system, 1)
    assert response.json()["status"] == "received"


def test_school_roll_system_posts_a_file_and_a_resend_answers_already_received(feed_system):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = csv_bytes([(identity_number(), "张三", "GZ-YX-001", "2026-06-30", "")])
    client = _client(feed_system)
    first = client.post(URL, {"source": "vocational", "file": SimpleUploadedFile("v.csv", content)}, format="multipart")
    again = client.post(URL, {"source": "vocational", "file": SimpleUploadedFile("v2.csv", content)}, format="multipart")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["status"] == "already_received" and again.json()["id"] == first.json()["id"]
    assert GraduateFeed.objects.count() == 1


def test_malformed_feed_is_refused_with_row_column_and_message(feed_system):
    records = _records() + [{"identity_number": "44010420100315", "name": "李四", "school_code": "GZ-YX-001", "graduation_date": "昨天"}]
    response = _client(feed_system).post(URL, {"source": "school_roll", "records": records}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "身份证号码"), (2, "毕业日期")]
    assert "18位" in errors[0]["message"]
    # The API's error item names the record field too, as every other endpoint's errors do.
    assert [e["field"] for e in errors] == ["identity_number", "graduation_date"]
    assert not GraduateFeed.objects.exists()


@pytest.mark.parametrize("persona", ["coordinator", "district_staff", "city_staff"])
def test_people_cannot_post_feeds_through_the_machine_endpoint(world, persona):
    response = _client(getattr(world, persona)).post(URL, {"source": "school_roll", "records": _records()}, format="json")
    assert response.status_code == 403
    assert not GraduateFeed.objects.exists()


def test_other_system_grants_cannot_post_feeds(world):
    reader = make_user("query-system", role="system", system_scope="read_all", city=world.city)
    response = _client(reader).post(URL, {"source": "school_roll", "records": _records()}, format="json")
    assert response.status_code == 403


def test_anonymous_cannot_post_feeds(world):
    response = APIClient().post(URL, {"source": "school_roll", "records": _records()}, format="json")
    assert response.status_code in (401, 403)


def _api_paths(identity: str):
    """Every /api/v1/ route, path parameters filled in (an existing student's identity number, else 1)."""

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route

    for route in walk(get_resolver().url_patterns, ""):
        # The API root only lists links; the feed endpoint is this app's own.
        if not route.startswith("api/v1/") or route == "api/v1/" or "graduate-feeds" in route:
            continue
        route = re.sub(r"<(?:\w+:)?identity_number>", identity, route)
        route = re.sub(r"<(?:\w+:)?(\w+)>", "1", route).replace("^", "").replace("$", "")
        if re.search(r"[\\(\[?*+]", route):
            continue
        yield "/" + route


def test_feed_token_gets_nothing_from_any_other_endpoint(world, feed_system):
    from tests.factories import StudentFactory

    student = StudentFactory(school=world.school)
    client = _client(feed_system)
    paths = sorted(set(_api_paths(student.identity_number)))
    assert paths, "no other API endpoint found"
    for path in paths:
        response = client.get(path)
        if response.status_code == 200:
            body = response.json()
            results = body.get("results", body) if isinstance(body, dict) else body
            assert not results, f"{path} answered the feed token with data"
        else:
            assert response.status_code in (403, 404, 405), (path, response.status_code)
    assert client.get(URL).status_code == 405 or client.get(URL).status_code == 403


def test_feed_token_does_not_open_the_admin(world, feed_system):
    response = _client(feed_system).get("/admin/graduates/graduatefeed/")
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/login/" in response["Location"]
    client = APIClient()
    login(client, feed_system)
    response = client.get("/admin/graduates/graduaterecord/")
    assert response.status_code in (302, 403)
