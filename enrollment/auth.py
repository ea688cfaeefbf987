"""Authentication that loads a user together with their membership, school and office.

Every portal page and API call starts by finding the caller's scope
(``membership_of``, ``request.school``, ``school.office.city``). Loaded with the
user in one joined query instead of three more round trips per request.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import TokenScheme
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

SCOPE = ("membership__school__office", "membership__office")


class MembershipBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related(*SCOPE).get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class MembershipTokenAuthentication(TokenAuthentication):
    """API tokens (django-rest-knox: only a hash is stored, each token expires and can be revoked on its own).

    Knox's check, with the token's user loaded together with their scope.
    Clients send ``Authorization: Token <token>`` as before.
    """

    def authenticate_credentials(self, token):
        from hmac import compare_digest

        from knox.crypto import hash_token

        message = _("Invalid token.")
        try:
            text = token.decode("utf-8")
            digest = hash_token(text)
        except (UnicodeDecodeError, TypeError, ValueError):
            raise exceptions.AuthenticationFailed(message) from None
        candidates = get_token_model().objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
            *(f"user__{path}" for path in SCOPE)
        )
        for auth_token in candidates:
            if self._cleanup_token(auth_token):
                continue
            if compare_digest(digest, auth_token.digest):
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(message)

    def _cleanup_token(self, auth_token) -> bool:
        # Knox also sweeps the user's other tokens here, one more query on every call;
        # an expired token is refused (and deleted) when it is itself presented.
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class MembershipTokenScheme(TokenScheme):
    """The schema's description of the token header (``Authorization: Token <token>``)."""

    target_class = "enrollment.auth.MembershipTokenAuthentication"
    match_subclasses = True
    priority = 0

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX)
