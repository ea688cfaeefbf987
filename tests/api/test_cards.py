import pytest

from enrollment.models import CitizenCard
from tests.factories import StudentFactory


@pytest.fixture
def sent_card(world):
    return CitizenCard.objects.create(student=StudentFactory(school=world.school), state=CitizenCard.State.SENT)


def test_cards_are_listed_within_scope(world, api, sent_card):
    CitizenCard.objects.create(student=StudentFactory(school=world.other_school))
    assert [row["id"] for row in api(world.coordinator).get("/api/v1/cards").json()["results"]] == [sent_card.pk]
    assert api(world.other_coordinator).get(f"/api/v1/cards/{sent_card.pk}").status_code == 404
    assert api(world.city_staff).get("/api/v1/cards?state=sent").json()["count"] == 1


def test_bureau_staff_mark_a_card_ready_and_picked_up(world, api, sent_card):
    client = api(world.district_staff)
    assert client.post(f"/api/v1/cards/{sent_card.pk}/ready").json()["state"] == "ready"
    body = client.post(f"/api/v1/cards/{sent_card.pk}/picked-up", {}, format="json").json()
    assert body["state"] == "picked_up" and body["picked_up_on"]
    sent_card.student.refresh_from_db()
    assert sent_card.student.has_citizen_card


def test_marking_a_card_in_the_wrong_state_is_refused_with_the_reason(world, api, sent_card):
    response = api(world.district_staff).post(f"/api/v1/cards/{sent_card.pk}/picked-up", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "card_state"


def test_coordinators_and_other_districts_cannot_mark_cards(world, api, sent_card):
    assert api(world.coordinator).post(f"/api/v1/cards/{sent_card.pk}/ready").status_code == 403
    assert api(world.other_district_staff).post(f"/api/v1/cards/{sent_card.pk}/ready").status_code == 404
    assert CitizenCard.objects.get(pk=sent_card.pk).state == CitizenCard.State.SENT
