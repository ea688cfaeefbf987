"""API tokens: issued with an expiry and shown once; only their hash is kept (django-rest-knox)."""

import datetime

from django.db import transaction
from knox.models import AuthToken

from enrollment.models import AuditEvent
from enrollment.services.common import Actor, audit_record


@transaction.atomic
def api_token_issue(*, actor: Actor, user, days: int | None) -> tuple[AuthToken, str]:
    """A new token for ``user`` valid ``days`` days (None: never expires); returns the row and the token text.

    The text exists only in this return value: the database keeps its SHA-512
    hash, so whoever receives it must store it now.
    """
    expiry = datetime.timedelta(days=days) if days is not None else None
    token, text = AuthToken.objects.create(user=user, expiry=expiry)
    # The audit row points at the account: a token's key is its hash, not a number.
    audit_record(actor=actor, action=AuditEvent.Action.API_TOKEN_ISSUED, obj=user, changes={"expiry": token.expiry.isoformat() if token.expiry else None})
    return token, text


@transaction.atomic
def api_tokens_revoke(*, actor: Actor, user) -> int:
    """Revoke every token of ``user`` (a lost or leaked token, an account closed)."""
    revoked, _by_model = AuthToken.objects.filter(user=user).delete()
    audit_record(actor=actor, action=AuditEvent.Action.API_TOKENS_REVOKED, obj=user, changes={"count": revoked})
    return revoked
