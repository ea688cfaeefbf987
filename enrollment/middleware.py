"""Request-level security pieces of the log-in lockout: the client address and the lockout page."""

import math
import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils.cache import patch_cache_control

LOCKOUT_TEMPLATE = "registration/locked_out.html"


def lockout_response(request, original_response=None, credentials=None):
    """The Chinese page django-axes shows once an account or an address has failed too often.

    It says when the lock ends, but names neither the account nor whether it
    exists, so the page tells an attacker nothing a failed log-in would not.
    """
    from django.utils import timezone

    from enrollment.lockout import ScopedLimitsHandler

    minutes = math.ceil(float(settings.AXES_COOLOFF_TIME or 0) * 60)
    until = ScopedLimitsHandler().locked_until(request, credentials or getattr(request, "axes_credentials", None))
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
        "locked_until": timezone.localtime(until) if until else None,
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=429)


def client_ip_address(request) -> str | None:
    """The address log-in failures are counted against.

    Behind the TLS proxy (BEHIND_TLS_PROXY=1) it is the last X-Forwarded-For
    entry, the one the proxy itself appended; entries to its left come from
    the client and are not trusted. Otherwise the socket's address.
    """
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            return entries[-1]
    return request.META.get("REMOTE_ADDR")


class SessionIdleRefreshMiddleware:
    """Moves a logged-in session's expiry forward on activity, at most once a minute.

    Sessions end after SESSION_COOKIE_AGE seconds without a request. Django's
    SESSION_SAVE_EVERY_REQUEST would do that with a database write on every
    request; writing only when the last refresh is SESSION_REFRESH_SECONDS
    old keeps the idle limit (to within that interval) at a fraction of the
    writes. Place it after SessionMiddleware.
    """

    KEY = "_refreshed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        # Only sessions of logged-in users: an expired or anonymous cookie must not create rows.
        if session is not None and session.session_key and session.get(SESSION_KEY):
            now = int(time.time())
            last = session.get(self.KEY, 0)
            if now - last >= settings.SESSION_REFRESH_SECONDS:
                # Setting a value marks the session modified: SessionMiddleware
                # then saves it with a fresh expiry of SESSION_COOKIE_AGE.
                session[self.KEY] = now
        return self.get_response(request)


class InterfaceLanguageMiddleware(LocaleMiddleware):
    """Pages are in Simplified Chinese unless the user picked another language with the switch.

    Office computers often send an English Accept-Language; honouring it would
    hand coordinators an interface they did not ask for. The choice is the
    language cookie set by the switch. The API keeps Accept-Language: its
    clients set it on purpose and get error messages in that language.
    """

    def process_request(self, request):
        if not request.path_info.startswith("/api/"):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)


class NoStoreMiddleware:
    """``Cache-Control: private, no-store`` on every answer to a signed-in user and on every API answer.

    Pages and API answers carry names and identity numbers: a shared office
    computer's browser cache or a proxy must not keep them. Static files,
    served before authentication runs, stay cacheable. Place it right after
    SecurityMiddleware, so it sees every response the views and the other
    middleware produce.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path_info.startswith("/api/") or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
            # Stale freshness directives would contradict no-store to a cache that ignores it.
            cache_control = [
                part.strip() for part in response["Cache-Control"].split(",")
                if not part.strip().startswith(("max-age", "s-maxage", "public"))
            ]
            response["Cache-Control"] = ", ".join(cache_control)
        return response
