"""``/health/``: is this instance able to serve? For the load balancer and the container runtime.

No log-in, no personal data: only whether the database and Redis answer.
A failing dependency gives 503 so the balancer takes the instance out.
"""

import functools
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

REDIS_TIMEOUT_SECONDS = 2


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    # One pool per process: a new connection per probe costs more than the probe itself.
    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)


def _check_redis() -> str:
    url = settings.REDIS_URL
    if not url:
        return "not_configured"
    _redis_client(url).ping()
    return "ok"


@never_cache
@require_GET
def health(request):
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        started = time.monotonic()
        try:
            status = check() or "ok"
        except Exception as exc:  # any failure means "down"; the type is enough to diagnose, no detail leaks
            status = "error"
            checks[name] = {"status": status, "error": type(exc).__name__}
            healthy = False
            continue
        checks[name] = {"status": status, "ms": round((time.monotonic() - started) * 1000, 1)}
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
