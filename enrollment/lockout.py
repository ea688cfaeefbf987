"""Log-in lockout with a limit per scope: (account, address), account, address.

django-axes counts failures per lockout parameter but compares them all with
one limit. One limit cannot tell a guesser from a school office: five typing
mistakes of one coordinator would lock every colleague behind the office's
address, or an account would lock at the same count whether the failures come
from one address or from many. So each scope gets its own limit
(``AXES_FAILURE_LIMIT`` for the pair, ``LOGIN_LOCKOUT_LIMITS`` for the others):

- ``username+ip_address``: failures for one account from one address (the
  usual guesser; the strictest limit);
- ``username``: failures for one account from any address (guessing spread
  over many addresses);
- ``ip_address``: *different accounts* that failed from one address
  (credential stuffing), so colleagues behind one address do not lock each
  other out.
"""

import datetime
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_lockout_parameters
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import ngettext

from enrollment.models import AuditEvent
from enrollment.services.common import Actor, audit_record

PAIR, ACCOUNT, ADDRESS = "username+ip_address", "username", "ip_address"


def _scope(parameter) -> str:
    return parameter if isinstance(parameter, str) else "+".join(parameter)


class ScopedLimitsHandler(AxesDatabaseHandler):
    """Axes' database handler, each lockout parameter measured against its own limit."""

    def scope_counts(self, request, credentials=None) -> list[tuple[str, int, int, datetime.datetime | None]]:
        """(scope, count, limit, last failure) for each lockout parameter, within the cool-off time."""
        parameters = get_lockout_parameters(request, credentials)
        limits = settings.LOGIN_LOCKOUT_LIMITS
        counts = []
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            scope = _scope(parameter)
            if scope == ADDRESS:
                count = attempts.exclude(username=None).values("username").distinct().count()
            else:
                count = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            last = attempts.aggregate(last=Max("attempt_time"))["last"] if count else None
            limit = settings.AXES_FAILURE_LIMIT if scope == PAIR else limits.get(scope, settings.AXES_FAILURE_LIMIT)
            counts.append((scope, count, limit, last))
        return counts

    def get_failures(self, request, credentials=None) -> int:
        # Axes locks when this reaches AXES_FAILURE_LIMIT: each scope's count is
        # shifted by its own limit, so reaching any scope's limit reaches it.
        base = settings.AXES_FAILURE_LIMIT
        return max((count - limit + base for _scope, count, limit, _last in self.scope_counts(request, credentials)), default=0)

    def reset_user_attempts(self, request, credentials=None) -> int:
        # A successful log-in clears the account's own failures only: clearing
        # everything its address matched would wipe the other accounts' failures
        # there, and with them the credential-stuffing count.
        from axes.helpers import get_client_username
        from axes.models import AccessAttempt

        username = get_client_username(request, credentials)
        if username is None:
            return 0
        count, _by_model = AccessAttempt.objects.filter(username=username).delete()
        return count

    def tries_left(self, request, credentials=None) -> int:
        """How many more failures this account may have from this address before a lock."""
        return max(0, min((limit - count for _s, count, limit, _l in self.scope_counts(request, credentials)), default=0))

    def locked_until(self, request, credentials=None) -> datetime.datetime | None:
        """When the lock that applies ends: the last failure of a scope at its limit, plus the cool-off time."""
        if not settings.AXES_COOLOFF_TIME:
            return None
        ends = [
            last for _scope, count, limit, last in self.scope_counts(request, credentials) if count >= limit and last
        ]
        if not ends:
            return None
        return max(ends) + datetime.timedelta(hours=float(settings.AXES_COOLOFF_TIME))



class TriesLeftMixin:
    """A failed log-in says how many tries remain before the lock, and for how long it would last."""

    def get_invalid_login_error(self):
        error = super().get_invalid_login_error()
        request = getattr(self, "request", None)
        if request is None or not settings.AXES_ENABLED or not hasattr(request, "axes_ip_address"):
            return error
        left = ScopedLimitsHandler().tries_left(request, {"username": self.cleaned_data.get("username")})
        minutes = math.ceil(float(settings.AXES_COOLOFF_TIME or 0) * 60)
        message = ngettext(
            "还可尝试 %(left)d 次；再失败将锁定登录 %(minutes)d 分钟。",
            "还可尝试 %(left)d 次；再失败将锁定登录 %(minutes)d 分钟。",
            left,
        ) % {"left": left, "minutes": minutes}
        return ValidationError([*error.error_list, ValidationError(message, code="tries_left")])


class LoginForm(TriesLeftMixin, AuthenticationForm):
    pass


class AdminLoginForm(TriesLeftMixin, AdminAuthenticationForm):
    pass


def may_unlock(*, user, target) -> bool:
    """Who may release whose lock: city staff any account of their city, district staff their district's
    coordinators, superusers anyone; a superuser's lock only a superuser; nobody outside their scope."""
    from enrollment.querysets import membership_city_id, membership_of

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if target.is_superuser or not user.is_staff:
        return False
    own, theirs = membership_of(user), membership_of(target)
    if own is None or theirs is None:
        return False
    if own.role == "city_staff":
        return membership_city_id(theirs) == own.city_id
    if own.role == "district_staff":
        return theirs.role == "coordinator" and theirs.school.office_id == own.office_id
    return False


@transaction.atomic
def login_unlock(*, actor: Actor, user) -> int:
    """Release an account's log-in lock at once (staff, from the admin): its failures from every address go.

    Refused (PermissionDenied) for an account outside the actor's scope (``may_unlock``). Recorded in the
    audit trail with who released it and how many failures were cleared.
    """
    from axes.models import AccessAttempt
    from django.core.exceptions import PermissionDenied

    if actor.user is not None and not may_unlock(user=actor.user, target=user):
        raise PermissionDenied

    attempts = AccessAttempt.objects.filter(username=user.get_username())
    failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
    attempts.delete()
    from enrollment.querysets import membership_of

    # A coordinator's unlock is filed under the school, where the school's district and city staff read it.
    membership = membership_of(user)
    audit_record(
        actor=actor, action=AuditEvent.Action.LOGIN_UNLOCKED, obj=user, changes={"failures_cleared": failures},
        school_id=membership.school_id if membership is not None else None,
    )
    return failures
