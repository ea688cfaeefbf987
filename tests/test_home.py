"""The front page sends each user to their work: staff to the bureau's dashboard, coordinators to the portal."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["district_staff", "city_staff"])
def test_staff_opening_the_front_page_land_on_the_bureau_dashboard(client, world, persona):
    client.force_login(getattr(world, persona))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("bureau:dashboard") == "/bureau/"


@pytest.mark.django_db
def test_a_coordinator_opening_the_front_page_gets_the_portal_home(client, world):
    client.force_login(world.coordinator)
    response = client.get("/")
    assert response.status_code == 200
    assert world.school.name in response.content.decode()


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.django_db
def test_staff_logging_in_through_the_portal_end_on_the_bureau_dashboard(client, world):
    world.district_staff.set_password("pw-for-the-test-1")
    world.district_staff.save()
    response = client.post(reverse("portal:login"), {"username": world.district_staff.username, "password": "pw-for-the-test-1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/bureau/"
    assert response.status_code == 200
