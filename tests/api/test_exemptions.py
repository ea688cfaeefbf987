import datetime

import pytest

from enrollment.models import Exemption, ExemptionCategory, ExemptionSource
from tests.factories import identity_number


@pytest.fixture
def exemption(world):
    category, _ = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保"})
    return Exemption.objects.create(
        identity_number=identity_number(), name="张三", category=category, source=ExemptionSource.CIVIL_AFFAIRS,
        valid_from=datetime.date(2026, 1, 1),
    )


def test_bureau_staff_read_the_exemption_register_masked(world, api, exemption):
    body = api(world.district_staff).get("/api/v1/exemptions").json()
    assert body["count"] == 1
    assert body["results"][0]["identity_number"] == "*" * 14 + exemption.identity_number[-4:]


def test_coordinators_may_not_read_the_exemption_register(world, api, exemption):
    client = api(world.coordinator)
    assert client.get("/api/v1/exemptions").status_code == 403
    assert client.get(f"/api/v1/exemptions/{exemption.pk}").status_code == 403


def test_system_tokens_may_not_read_the_exemption_register(world, api, exemption, read_all_system):
    assert api(read_all_system).get("/api/v1/exemptions").status_code == 403


def test_exemptions_filter_by_validity_date(world, api, exemption):
    client = api(world.city_staff)
    assert client.get("/api/v1/exemptions?valid_on=2025-12-31").json()["count"] == 0
    assert client.get("/api/v1/exemptions?valid_on=2026-06-01").json()["count"] == 1
