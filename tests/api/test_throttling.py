"""API rate limits: a caller over the rate gets 429 with Retry-After until the period ends."""

import secrets

import pytest
from rest_framework.throttling import SimpleRateThrottle

from enrollment.api import throttling
from enrollment.api.throttling import CountingRateThrottle


@pytest.fixture(params=["redis", "django-cache"])
def clock(request, monkeypatch, settings):
    """A clock of the tests' own, in a period of its own: counters of other runs never meet this one's.

    Run once counting in Redis directly and once through Django's cache API (sites without Redis).
    """
    if request.param == "django-cache":
        settings.REDIS_URL = ""
    throttling._redis.cache_clear()
    request.addfinalizer(throttling._redis.cache_clear)
    now = [secrets.randbelow(10**6) * 60.0 + 5.0]
    monkeypatch.setattr(CountingRateThrottle, "timer", lambda self: now[0])
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    return now


def test_a_caller_over_the_rate_gets_429_with_the_seconds_left_in_the_period(world, api, clock):
    client = api(world.coordinator)
    assert [client.get("/api/v1/students").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/students")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "55"


def test_each_caller_has_a_count_of_their_own(world, api, clock):
    client = api(world.coordinator)
    for _ in range(4):
        client.get("/api/v1/students")
    assert api(world.other_coordinator).get("/api/v1/students").status_code == 200


def test_the_next_period_lets_the_caller_in_again(world, api, clock):
    client = api(world.coordinator)
    for _ in range(4):
        client.get("/api/v1/students")
    clock[0] += 60
    assert client.get("/api/v1/students").status_code == 200

