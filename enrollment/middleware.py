"""Request-level security pieces: the response shown when log-in is locked out."""

import math

from django.conf import settings
from django.shortcuts import render

LOCKOUT_TEMPLATE = "registration/locked_out.html"


def lockout_response(request, original_response=None, credentials=None):
    """The Chinese page django-axes shows once an account or an address has failed too often.

    It names neither the account nor whether it exists, so the page tells an
    attacker nothing a failed log-in would not.
    """
    minutes = math.ceil(float(settings.AXES_COOLOFF_TIME or 0) * 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, LOCKOUT_TEMPLATE, context, status=429)
