"""Logged-in clients for every persona, for tests that walk URLs as each of them.

``personas(world)`` returns a dict name -> Persona with a Django test client
(session logged in, or a DRF token header for system accounts) and the user.
Portal and admin pages are reached with ``persona.client.get(url)``; API
endpoints the same way (system personas send ``Authorization: Token ...``).
"""

from dataclasses import dataclass

from django.test import Client
from knox.models import AuthToken

from tests.factories import make_user

ANONYMOUS = "anonymous"
COORDINATOR = "coordinator"
OTHER_SCHOOL_COORDINATOR = "other_school_coordinator"
DISTRICT_STAFF = "district_staff"
OTHER_DISTRICT_STAFF = "other_district_staff"
CITY_STAFF = "city_staff"
SYSTEM_READ_ALL = "system_read_all"
SYSTEM_GRADUATE_FEEDS = "system_graduate_feeds"


@dataclass
class Persona:
    name: str
    user: object | None
    client: Client
    token: str | None = None


def _session_client(user) -> Client:
    # Persist the password hash set in memory by the factory: the session
    # carries a hash of it, and a mismatch with the database logs the session out.
    user.save(update_fields=["password"])
    client = Client()
    # force_login skips the password backends (and so the lockout counter),
    # which is what tests about access, not about logging in, want.
    client.force_login(user, backend="enrollment.auth.MembershipBackend")
    return client


def _token_client(user) -> tuple[Client, str]:
    _token, text = AuthToken.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {text}"), text


def personas(world) -> dict[str, Persona]:
    """Every persona of the ``world`` fixture plus two system accounts of its city."""
    read_all = make_user("system-read-all", role="system", city=world.city, system_scope="read_all")
    feeds = make_user("system-graduate-feeds", role="system", city=world.city, system_scope="graduate_feeds")
    result = {ANONYMOUS: Persona(ANONYMOUS, None, Client())}
    for name, user in (
        (COORDINATOR, world.coordinator),
        (OTHER_SCHOOL_COORDINATOR, world.other_coordinator),
        (DISTRICT_STAFF, world.district_staff),
        (OTHER_DISTRICT_STAFF, world.other_district_staff),
        (CITY_STAFF, world.city_staff),
    ):
        result[name] = Persona(name, user, _session_client(user))
    for name, user in ((SYSTEM_READ_ALL, read_all), (SYSTEM_GRADUATE_FEEDS, feeds)):
        client, key = _token_client(user)
        result[name] = Persona(name, user, client, key)
    return result
