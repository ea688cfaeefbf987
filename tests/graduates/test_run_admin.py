"""The deregistration runs in the admin read as people read them."""

from django.urls import reverse

from graduates.models import DeregistrationRun
from tests.factories import login


def test_a_runs_duration_is_shown_in_seconds_and_minutes_not_as_a_raw_float(client, world):
    DeregistrationRun.objects.create(triggered_by="nightly", duration_seconds=0.024443640000072264)
    DeregistrationRun.objects.create(triggered_by="nightly", duration_seconds=83.46)
    world.city_staff.is_superuser = True
    world.city_staff.save()
    login(client, world.city_staff)

    page = client.get(reverse("admin:graduates_deregistrationrun_changelist")).content.decode()

    assert "0.0秒" in page and "1分23.5秒" in page
    assert "0.024443640000072264" not in page
