"""Admin pages read as people read them: no Python object repr, no float durations."""

import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from tests.security import access_walk as walk
from tests.security import world_a

REPR = re.compile(r"\b\w+ object \(\d+\)")
FLOAT = re.compile(r">\s*\d+\.\d{5,}\s*<")


@pytest.fixture
def superuser_client(world, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    world_a.build(world)
    world.city_staff.is_superuser = True
    world.city_staff.save()
    client = Client()
    client.force_login(world.city_staff, backend="enrollment.auth.MembershipBackend")
    return client


def test_no_admin_list_or_change_page_shows_an_object_repr_or_a_raw_float(superuser_client):
    found = []
    for prefix, model in walk.admin_models():
        urls = [reverse(f"admin:{prefix}_changelist")]
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            try:
                urls.append(reverse(f"admin:{prefix}_change", args=[first.pk]))
            except NoReverseMatch:
                pass
        for url in urls:
            response = superuser_client.get(url)
            if response.status_code != 200:
                continue
            html = response.content.decode()
            found += [f"{url}: {m}" for m in REPR.findall(html)] + [f"{url}: {m}" for m in FLOAT.findall(html)]
    assert not found, "\n".join(found)
