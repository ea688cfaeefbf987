"""Uploaded files (personal data) are never reachable by a plain URL."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


@pytest.fixture
def private_file(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    name = default_storage.save("jobs/input/2027/09/学生名单.csv", ContentFile("张三,440104201003150011\n".encode()))
    yield name
    default_storage.delete(name)


def test_private_storage_lies_outside_every_served_directory():
    location = Path(settings.STORAGES["default"]["OPTIONS"]["location"]).resolve()
    served = [Path(settings.STATIC_ROOT).resolve(), *(Path(d).resolve() for d in settings.STATICFILES_DIRS)]
    assert all(location != root and root not in location.parents for root in served)


@pytest.mark.django_db
def test_a_stored_upload_is_not_served_under_any_plain_url(client, private_file):
    for prefix in ("/static/", "/media/", "/", "/private/", "/var/private/"):
        response = client.get(prefix + private_file)
        assert response.status_code in (301, 302, 404), prefix
        assert b"440104201003150011" not in getattr(response, "content", b"")
