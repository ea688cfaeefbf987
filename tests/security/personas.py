"""Logged-in clients for every persona, for tests that walk URLs as each of them.

``personas(world)`` returns a dict name -> Persona with a Django test client
(session logged in, or a DRF token header for system accounts) and the user.
Portal and admin pages are reached with ``persona.client.get(url)``; API
endpoints the same way (system personas send ``Authorization: Token ...``).
"""

from dataclasses import dataclass

from django.test import Client
from knox.models import AuthToken

from tests.factories import CityFactory, InsuranceYearFactory, OfficeFactory, SchoolFactory, make_user

ANONYMOUS = "anonymous"
COORDINATOR = "coordinator"
OTHER_SCHOOL_COORDINATOR = "other_school_coordinator"
DISTRICT_STAFF = "district_staff"
OTHER_DISTRICT_STAFF = "other_district_staff"
CITY_STAFF = "city_staff"
OTHER_CITY_STAFF = "other_city_staff"
OTHER_CITY_DISTRICT_STAFF = "other_city_district_staff"
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
    """Every persona of the ``world`` fixture, the other city's city and district staff, two system accounts of the world's city."""
    read_all = make_user("system-read-all", role="system", city=world.city, system_scope="read_all")
    # The other city's staff: Suzhou's social-security centre, with a university of its own.
    suzhou = CityFactory(code="suzhou", name="苏州市")
    centre = OfficeFactory(code="sz-centre", city=suzhou, name="苏州市社保中心", district="姑苏区")
    SchoolFactory(code="SZ-U-001", name="苏州大学", office=centre, kind="university")
    InsuranceYearFactory(city=suzhou, label=world.year.label, fee_standard="140.00", collection_route="tax_declaration")
    other_city = make_user("staff-suzhou", role="city_staff", city=suzhou, staff=True)
    # Suzhou's district staff: the centre's own clerk, who sees the centre's schools only.
    other_city_district = make_user("staff-suzhou-centre", role="district_staff", office=centre, staff=True)
    feeds = make_user("system-graduate-feeds", role="system", city=world.city, system_scope="graduate_feeds")
    result = {ANONYMOUS: Persona(ANONYMOUS, None, Client())}
    for name, user in (
        (COORDINATOR, world.coordinator),
        (OTHER_SCHOOL_COORDINATOR, world.other_coordinator),
        (DISTRICT_STAFF, world.district_staff),
        (OTHER_DISTRICT_STAFF, world.other_district_staff),
        (CITY_STAFF, world.city_staff),
        (OTHER_CITY_STAFF, other_city),
        (OTHER_CITY_DISTRICT_STAFF, other_city_district),
    ):
        result[name] = Persona(name, user, _session_client(user))
    for name, user in ((SYSTEM_READ_ALL, read_all), (SYSTEM_GRADUATE_FEEDS, feeds)):
        client, key = _token_client(user)
        result[name] = Persona(name, user, client, key)
    return result
