"""Taking a suspected graduate off the paying list asks why, can be undone, and confirming never lets one through unseen."""

import datetime

import pytest
from django.urls import reverse

from enrollment.models import Enrollment, EnrollmentStatus, RosterState
from enrollment.services.common import Actor
from enrollment.services.students import student_create
from tests import files
from tests.api.conftest import api  # noqa: F401  (fixture)

BACKEND = "enrollment.auth.MembershipBackend"


def _student(world, seq, **overrides):
    row = files.student_row(seq, **overrides)
    data = {"name": row[0], "identity_number": row[1], "sex": "M" if row[2] == "男" else "F",
            "birth_date": datetime.date.fromisoformat(row[3]), "grade": row[4], "class_name": row[5]}
    return student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data=data)


@pytest.fixture
def portal(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    return client


@pytest.fixture
def graduate(world):
    _student(world, 1)
    return Enrollment.objects.get(student=_student(world, 2, grade=12))


def _roster(world):
    return world.school.rosters.get(insurance_year=world.year)


def test_removing_asks_for_a_reason_on_a_page_that_names_the_student(portal, graduate):
    url = reverse("portal:roster_remove", args=[graduate.pk])
    page = portal.get(url).content.decode()
    assert graduate.student.name in page and "最高年级（12年级）" in page and "确认剔除" in page
    assert Enrollment.objects.get(pk=graduate.pk).status == EnrollmentStatus.REGISTERED

    refused = portal.post(url, {"reason": " "})
    assert refused.status_code == 200 and Enrollment.objects.get(pk=graduate.pk).status == EnrollmentStatus.REGISTERED

    portal.post(url, {"reason": "2026年6月毕业"})
    removed = Enrollment.objects.get(pk=graduate.pk)
    assert removed.status == EnrollmentStatus.REMOVED and removed.status_reason == "2026年6月毕业"


def test_a_removed_student_is_listed_and_can_be_put_back_with_the_fee(portal, world, graduate):
    fee = graduate.fee_due
    portal.post(reverse("portal:roster_remove", args=[graduate.pk]), {"reason": "已毕业"})
    page = portal.get(reverse("portal:roster")).content.decode()
    assert "已剔除的学生" in page and graduate.student.name in page.split('id="removed"')[1]

    portal.post(reverse("portal:roster_restore", args=[graduate.pk]))

    restored = Enrollment.objects.get(pk=graduate.pk)
    assert restored.status == EnrollmentStatus.REGISTERED and restored.fee_due == fee


def test_another_schools_coordinator_cannot_remove_or_restore(client, world, graduate):
    client.force_login(world.other_coordinator, backend=BACKEND)
    assert client.get(reverse("portal:roster_remove", args=[graduate.pk])).status_code == 404
    assert client.post(reverse("portal:roster_restore", args=[graduate.pk])).status_code == 404


def test_confirming_with_suspected_graduates_asks_again_naming_how_many(portal, world, graduate):
    page = portal.get(reverse("portal:roster"))
    version = page.context["roster"].version
    assert "这1名学生仍在校，照常缴费" in page.content.decode()

    refused = portal.post(reverse("portal:roster_confirm"), {"version": version, "checked": "on"}, follow=True)

    assert "仍有1名疑似毕业生" in refused.content.decode()
    assert _roster(world).state == RosterState.OPEN

    portal.post(reverse("portal:roster_confirm"), {"version": version, "checked": "on", "suspected_acknowledged": "1"})
    assert _roster(world).state == RosterState.CONFIRMED


def test_the_api_refuses_a_confirmation_that_does_not_name_the_suspected_graduates(world, graduate, api):  # noqa: F811
    roster = _roster(world)
    client = api(world.coordinator)
    url = f"/api/v1/rosters/{roster.pk}/confirm"

    refused = client.post(url, {"checked": True}, format="json")
    assert refused.status_code == 400 and "仍有1名疑似毕业生" in refused.content.decode("utf-8")

    assert client.post(url, {"checked": True, "suspected_acknowledged": 1}, format="json").status_code == 200
    assert _roster(world).state == RosterState.CONFIRMED
