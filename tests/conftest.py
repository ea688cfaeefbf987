"""Personas: a coordinator, another school's coordinator, district staff of both districts, city staff."""

from types import SimpleNamespace

import pytest

# The demo data for browser tests, seeded once per module that asks for it (see tests/demo_live.py).
from tests.demo_live import browser, demo, demo_server, open_as, situations  # noqa: E402, F401, I001  (fixtures)
from tests.factories import (
    CityFactory,
    InsuranceYearFactory,
    OfficeFactory,
    SchoolFactory,
    make_user,
)
from tests.worker_pool import kill_broker, kill_pool  # noqa: F401 - the kill tests' worker pool, shared by the run

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create many users and log in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _site_language():
    # A request in English leaves English active in the thread that served it (LocaleMiddleware activates,
    # nothing deactivates); every test starts in the site's language, as a new worker thread would.
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def world(db):
    """Two Guangzhou districts with a school each, an open insurance year, and one user per persona."""
    city = CityFactory(code="guangzhou", name="广州市")
    yuexiu = OfficeFactory(code="gz-yuexiu", city=city, name="越秀分局", district="越秀区")
    haizhu = OfficeFactory(code="gz-haizhu", city=city, name="海珠分局", district="海珠区")
    school = SchoolFactory(code="GZ-YX-001", name="越秀第一中学", office=yuexiu)
    other_school = SchoolFactory(code="GZ-HZ-001", name="海珠第一中学", office=haizhu)
    year = InsuranceYearFactory(city=city, label="2027")
    return SimpleNamespace(
        city=city,
        office=yuexiu,
        other_office=haizhu,
        school=school,
        other_school=other_school,
        year=year,
        coordinator=make_user("coord", role="coordinator", school=school),
        other_coordinator=make_user("coord-other", role="coordinator", school=other_school),
        district_staff=make_user("staff-yuexiu", role="district_staff", office=yuexiu, staff=True),
        other_district_staff=make_user("staff-haizhu", role="district_staff", office=haizhu, staff=True),
        city_staff=make_user("staff-city", role="city_staff", city=city, staff=True),
    )
