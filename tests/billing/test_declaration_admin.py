"""The admin page of a generated declaration opens and links its private file through the checked download."""

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from billing.models import Declaration
from tests.billing.conftest import confirm_roster
from tests.factories import login


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    # As in production: private files have no URL at all (the test settings give one for the live server).
    settings.MEDIA_URL = None
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def test_a_generated_declaration_opens_in_the_admin_with_a_download_link(client, world):
    confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=2)
    declaration = Declaration.objects.create(
        reference="DECL-1", insurance_year=world.year, roster=confirmation.roster, confirmation=confirmation,
        school=world.school, head_count=2, amount=Decimal("400.00"),
    )
    declaration.file.save("decl.csv", ContentFile(b"a,b\n"), save=True)
    login(client, world.city_staff)
    response = client.get(reverse("admin:billing_declaration_change", args=[declaration.pk]))
    assert response.status_code == 200
    assert reverse("billing:declaration-file", args=[declaration.pk]) in response.content.decode()


def test_a_declaration_whose_file_is_missing_on_disk_answers_not_found_not_a_server_error(client, world):
    confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=2)
    declaration = Declaration.objects.create(
        reference="DECL-2", insurance_year=world.year, roster=confirmation.roster, confirmation=confirmation,
        school=world.school, head_count=2, amount=Decimal("400.00"),
    )
    declaration.file.save("decl.csv", ContentFile(b"a,b\n"), save=True)
    declaration.file.storage.delete(declaration.file.name)  # still being moved into place, or lost
    login(client, world.city_staff)
    response = client.get(reverse("billing:declaration-file", args=[declaration.pk]))
    assert response.status_code == 404
