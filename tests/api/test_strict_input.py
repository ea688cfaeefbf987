"""Input the API cannot read is refused in its JSON error shape, naming what is wrong, never ignored nor a 500."""

import json

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.api.base import exception_handler
from enrollment.models import Job
from tests.factories import StudentFactory

FEEDS = "/api/v1/graduate-feeds/"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) >= {"code", "message", "field", "errors"}, body
    return body


def post_raw(client, url, body: bytes, content_type="application/json"):
    return client.generic("POST", url, body, content_type=content_type)


def test_a_body_over_the_upload_limit_is_a_413_in_the_json_error_shape(api, feed_system, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"source": "school_roll", "records": [{"name": "x" * 1000}] * 1200}).encode()
    response = post_raw(api(feed_system), FEEDS, body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_djangos_request_data_too_big_is_answered_as_a_json_413():
    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413 and response.data["code"] == "too_large"


@pytest.mark.parametrize(
    "body",
    [
        b'{"source": "school_roll", "records": [], "name": "\xff\xfe"}',
        b'{"source": "school_roll", "records": [NaN]}',
        b'{"source": "school_roll", "records": [Infinity]}',
        b'{"source": ',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 100 + b"1" + b"}" * 100,
    ],
    ids=["bad-utf8", "nan", "infinity", "truncated", "5000-levels", "100-levels"],
)
def test_unreadable_json_is_a_400_parse_error(api, feed_system, body):
    response = post_raw(api(feed_system), FEEDS, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("body", [b"[]", b'[{"source": "school_roll"}]', b'"records"', b"42", b"null"])
def test_a_graduate_feed_body_that_is_not_an_object_is_a_400_invalid_body(api, feed_system, body):
    response = post_raw(api(feed_system), FEEDS, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_body"


@pytest.mark.parametrize(
    "query, field",
    [
        ("birth_date=2026-13-45", "birth_date"),
        ("created_at__gte=notadate", "created_at__gte"),
        ("nmae=张", "nmae"),
        ("school=abc", "school"),
        ("status=no-such-status", "status"),
        ("page_size=-1", "page_size"),
        ("page_size=1e9", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page_size=", "page_size"),
        ("page=abc", "page"),
        ("ordering=identity_number", "ordering"),
    ],
)
def test_invalid_or_unknown_query_parameters_are_a_400_naming_the_parameter(world, api, query, field):
    StudentFactory(school=world.school)
    response = api(world.district_staff).get(f"/api/v1/students?{query}")
    assert response.status_code == 400, response.content
    body = error_of(response)
    assert body["field"] == field
    assert field in {error["field"] for error in body["errors"]}


def test_unknown_parameters_are_refused_on_detail_views_too(world, api):
    student = StudentFactory(school=world.school)
    response = api(world.district_staff).get(f"/api/v1/students/{student.pk}?expand=everything")
    assert response.status_code == 400 and error_of(response)["field"] == "expand"


@pytest.mark.parametrize("url", ["/api/v1/debit-instructions/?stat=paid", "/api/v1/coordinators?schol=1", "/api/v1/rosters?yr=2027"])
def test_every_list_refuses_unknown_parameters(world, api, url):
    response = api(world.city_staff).get(url)
    assert response.status_code == 400, response.content


def test_valid_filters_pages_and_orderings_still_answer(world, api):
    for number in range(3):
        StudentFactory(school=world.school, name=f"张{number}")
    client = api(world.district_staff)
    response = client.get(f"/api/v1/students?school={world.school.pk}&page_size=2&page=2&ordering=-name&format=json&full=0")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 3 and len(response.json()["results"]) == 1
    assert client.get("/api/v1/students?page_size=500").status_code == 200


def test_an_empty_file_posted_to_the_import_api_is_refused_without_a_job(world, api):
    response = api(world.coordinator).post(
        f"/api/v1/schools/{world.school.code}/students/import",
        {"file": SimpleUploadedFile("students.xlsx", b"")},
        format="multipart",
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "file"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"source": "school_roll", "records": [], "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'),
        ("application/x-www-form-urlencoded", b"source=school_roll&pad=" + b"x" * (6 * 1024 * 1024)),
        (
            "multipart/form-data; boundary=BOUNDARY",
            b'--BOUNDARY\r\nContent-Disposition: form-data; name="pad"\r\n\r\n' + b"x" * (6 * 1024 * 1024)
            + b"\r\n--BOUNDARY--\r\n",
        ),
    ],
    ids=["json", "form", "multipart-field"],
)
def test_a_6_mb_body_is_answered_in_the_json_error_shape(api, feed_system, content_type, body):
    response = post_raw(api(feed_system), FEEDS, body, content_type=content_type)
    assert response.status_code in (400, 413, 415), response.status_code
    assert response["Content-Type"].startswith("application/json")
    error_of(response)
