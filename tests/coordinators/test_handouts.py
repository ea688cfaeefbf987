"""Recording that rights records were handed out per class (R17), and the bureau's list of schools that have not."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from coordinators.models import Handout
from coordinators.selectors_documents import classes_of, schools_without_handouts
from coordinators.services.handouts import record_handout
from enrollment.services.common import Actor
from tests.coordinators.documents_support import enroll, login


def portal(user):
    return Actor(user=user, source="portal")


def test_recording_a_class_handout_shows_on_the_class_list(world):
    enroll(world, paid=True, class_name="1班")
    enroll(world, class_name="2班")
    day = timezone.localdate()

    record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, class_name="1班", handed_out_on=day)

    rows = {row.class_name: row for row in classes_of(school=world.school, insurance_year=world.year)}
    assert rows["1班"].handed_out_on == day and rows["1班"].covered == 1
    assert rows["2班"].handed_out_on is None and rows["2班"].covered == 0


def test_recording_again_corrects_the_date_instead_of_adding_a_row(world):
    enroll(world, class_name="1班")
    today = timezone.localdate()
    for day in (today - datetime.timedelta(days=3), today):
        record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year, class_name="1班", handed_out_on=day)
    assert list(Handout.objects.values_list("handed_out_on", flat=True)) == [today]


def test_unknown_class_and_future_dates_are_refused(world):
    enroll(world, class_name="1班")
    with pytest.raises(ValidationError, match="没有"):
        record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year,
                       class_name="9班", handed_out_on=timezone.localdate())
    with pytest.raises(ValidationError, match="不能晚于今天"):
        record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year,
                       class_name="1班", handed_out_on=timezone.localdate() + datetime.timedelta(days=1))
    assert not Handout.objects.exists()


def test_bureau_sees_schools_that_have_not_handed_out_within_scope(world):
    enroll(world, paid=True, class_name="1班")
    enroll(world, paid=True, class_name="2班")
    enroll(world, school=world.other_school, paid=True, class_name="1班")
    record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year,
                   class_name="1班", handed_out_on=timezone.localdate())

    city_view = {row.school: (row.classes, row.handed_out) for row in schools_without_handouts(user=world.city_staff, insurance_year=world.year)}
    assert city_view == {world.school: (2, 1), world.other_school: (1, 0)}
    district = schools_without_handouts(user=world.district_staff, insurance_year=world.year)
    assert [row.school for row in district] == [world.school]

    record_handout(actor=portal(world.coordinator), school=world.school, insurance_year=world.year,
                   class_name="2班", handed_out_on=timezone.localdate())
    assert not schools_without_handouts(user=world.district_staff, insurance_year=world.year)


def test_coordinator_records_a_handout_in_the_portal(world, client):
    enroll(world, paid=True, class_name="3班")
    login(client, world.coordinator)

    response = client.post(reverse("portal:handout_record"), {"class_name": "3班", "handed_out_on": timezone.localdate().isoformat()})

    assert response.status_code == 302
    assert Handout.objects.get().recorded_by == world.coordinator
    page = client.get(reverse("portal:documents")).content.decode()
    assert "已发放" in page


def test_bureau_pending_page_in_admin_is_scoped(world, client):
    enroll(world, paid=True, class_name="1班")
    enroll(world, school=world.other_school, paid=True, class_name="1班")
    login(client, world.district_staff)

    page = client.get(reverse("admin:coordinators_handout_pending"))

    assert page.status_code == 200
    text = page.content.decode()
    assert "越秀第一中学" in text and "海珠第一中学" not in text
