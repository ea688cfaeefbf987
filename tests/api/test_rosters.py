import datetime

from enrollment.models import AuditEvent, InsuranceYear, Roster, RosterState
from tests.api.data import school_with_students


def test_coordinator_previews_own_roster_and_gets_404_for_another(world, api):
    school_with_students(world.school, world.year, paid=0, unpaid=3)
    school_with_students(world.other_school, world.year, unpaid=1)
    mine = Roster.objects.get(school=world.school)
    theirs = Roster.objects.get(school=world.other_school)
    client = api(world.coordinator)
    preview = client.get(f"/api/v1/rosters/{mine.pk}/preview")
    assert preview.status_code == 200
    assert preview.json()["paying_count"] == 3
    assert preview.json()["amount"] == "600.00"
    assert client.get(f"/api/v1/rosters/{theirs.pk}/preview").status_code == 404
    assert client.post(f"/api/v1/rosters/{theirs.pk}/confirm", {"checked": True}, format="json").status_code == 404
    assert [row["id"] for row in client.get("/api/v1/rosters").json()["results"]] == [mine.pk]


def test_confirming_through_the_api_freezes_the_roster_and_records_the_source(world, api):
    school_with_students(world.school, world.year, unpaid=2)
    roster = Roster.objects.get(school=world.school)
    response = api(world.coordinator).post(
        f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True, "expected_version": roster.version}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == RosterState.CONFIRMED
    assert AuditEvent.objects.get(action="roster_confirm").source == AuditEvent.Source.API


def test_confirming_twice_is_a_conflict(world, api):
    school_with_students(world.school, world.year, unpaid=2)
    roster = Roster.objects.get(school=world.school)
    client = api(world.coordinator)
    client.post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True}, format="json")
    response = client.post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "roster_locked"


def test_confirming_after_the_window_is_a_conflict_with_a_chinese_message(world, api):
    school_with_students(world.school, world.year, unpaid=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(window_end=datetime.date.today() - datetime.timedelta(days=1))
    roster = Roster.objects.get(school=world.school)
    response = api(world.coordinator).post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "window_closed" and "申报缴费期" in body["message"]


def test_confirming_without_checking_names_the_field(world, api):
    school_with_students(world.school, world.year, unpaid=1)
    roster = Roster.objects.get(school=world.school)
    response = api(world.coordinator).post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": False}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "checked"
    assert Roster.objects.get(pk=roster.pk).state == RosterState.OPEN


def test_district_staff_cannot_see_another_districts_rosters(world, api):
    school_with_students(world.other_school, world.year, unpaid=1)
    theirs = Roster.objects.get(school=world.other_school)
    client = api(world.district_staff)
    assert client.get("/api/v1/rosters").json()["count"] == 0
    assert client.get(f"/api/v1/rosters/{theirs.pk}").status_code == 404


def test_bureau_staff_cannot_confirm_for_the_school(world, api):
    school_with_students(world.school, world.year, unpaid=1)
    roster = Roster.objects.get(school=world.school)
    response = api(world.district_staff).post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True}, format="json")
    assert response.status_code == 403
    assert "协管员" in response.json()["message"]
    assert Roster.objects.get(pk=roster.pk).state == RosterState.OPEN


def test_a_read_only_system_token_cannot_confirm(world, api, read_all_system):
    school_with_students(world.school, world.year, unpaid=1)
    roster = Roster.objects.get(school=world.school)
    client = api(read_all_system)
    assert client.get(f"/api/v1/rosters/{roster.pk}").status_code == 200
    assert client.post(f"/api/v1/rosters/{roster.pk}/confirm", {"checked": True}, format="json").status_code == 403
    assert Roster.objects.get(pk=roster.pk).state == RosterState.OPEN


def test_graduate_feed_token_cannot_see_rosters(world, api, feed_system):
    school_with_students(world.school, world.year, unpaid=1)
    roster = Roster.objects.get(school=world.school)
    assert api(feed_system).get(f"/api/v1/rosters/{roster.pk}/preview").status_code == 403
