"""The API: the late students' preview and the supplementary confirmation, scoped to the coordinator's school."""

import datetime

from enrollment.models import AuditEvent, InsuranceYear, Roster, RosterConfirmation
from enrollment.services.common import Actor
from enrollment.services.students import student_create
from tests.billing.conftest import confirm_roster
from tests.enrollment.test_student_services import _data


def _late(world, seq=7):
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data=_data(seq, name="迟到生"))
    return Roster.objects.get(school=world.school)


def test_coordinator_previews_the_late_students_with_masked_numbers_and_confirms_them(world, api):
    roster = _late(world)
    client = api(world.coordinator)
    preview = client.get(f"/api/v1/rosters/{roster.pk}/supplementary").json()
    assert (preview["count"], preview["amount"]) == (1, "200.00")
    assert preview["students"][0]["name"] == "迟到生" and "*" in preview["students"][0]["masked_identity_number"]
    response = client.post(f"/api/v1/rosters/{roster.pk}/confirm-supplementary",
                           {"checked": True, "expected_version": preview["version"]}, format="json")
    assert response.status_code == 200, response.json()
    assert RosterConfirmation.objects.get(supplementary=True).paying_count == 1
    assert AuditEvent.objects.get(action="roster_confirm_supplementary").source == AuditEvent.Source.API


def test_confirming_the_late_students_twice_is_a_conflict(world, api):
    roster = _late(world)
    client = api(world.coordinator)
    client.post(f"/api/v1/rosters/{roster.pk}/confirm-supplementary", {"checked": True}, format="json")
    response = client.post(f"/api/v1/rosters/{roster.pk}/confirm-supplementary", {"checked": True}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "nothing_to_confirm"
    assert RosterConfirmation.objects.filter(supplementary=True).count() == 1


def test_another_schools_coordinator_cannot_see_or_confirm_the_late_students(world, api):
    roster = _late(world)
    client = api(world.other_coordinator)
    assert client.get(f"/api/v1/rosters/{roster.pk}/supplementary").status_code == 404
    assert client.post(f"/api/v1/rosters/{roster.pk}/confirm-supplementary", {"checked": True}, format="json").status_code == 404


def test_after_the_window_a_locked_year_refuses_with_what_to_do_in_chinese(world, api):
    roster = _late(world)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=True
    )
    response = api(world.coordinator).post(f"/api/v1/rosters/{roster.pk}/confirm-supplementary", {"checked": True}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "window_closed" and "户籍所在地" in response.json()["message"]
    assert not RosterConfirmation.objects.filter(supplementary=True).exists()
