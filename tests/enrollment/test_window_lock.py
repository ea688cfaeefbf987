"""The window lock (R12): outside the declaration window every roster change is refused with the dates."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import Enrollment, InsuranceYear, Roster, RosterState
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh, enrollment_remove, enrollments_refresh_bulk
from enrollment.services.exemptions import exemptions_import
from enrollment.services.fees import fee_standard_publish
from enrollment.services.rosters import roster_confirm, roster_reopen
from enrollment.tasks.rosters import recompute_fees_task
from tests.factories import StudentFactory, login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)},
    }}


@pytest.fixture
def closed(world):
    """A roster filled inside the window, then the window closes."""
    student = StudentFactory(school=world.school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    past = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(window_start=past - datetime.timedelta(days=60), window_end=past)
    world.year.refresh_from_db()
    enrollment.refresh_from_db()
    return enrollment


def assert_window_closed(caught, year):
    assert caught.value.code == "window_closed"
    message = caught.value.messages[0]
    assert year.window_start.isoformat() in message and year.window_end.isoformat() in message


def test_refresh_is_refused_outside_the_window(world, closed):
    with pytest.raises(ValidationError) as caught:
        enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    assert_window_closed(caught, world.year)
    assert Enrollment.objects.count() == 1


def test_bulk_refresh_is_refused_outside_the_window(world, closed):
    StudentFactory(school=world.school)
    roster = Roster.objects.get(school=world.school)
    with pytest.raises(ValidationError) as caught:
        enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    assert_window_closed(caught, world.year)


def test_removal_is_refused_outside_the_window(world, closed):
    with pytest.raises(ValidationError) as caught:
        enrollment_remove(actor=Actor.job("t"), enrollment=closed, reason="毕业")
    assert_window_closed(caught, world.year)


def test_confirmation_is_refused_outside_the_window(world, closed):
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    assert_window_closed(caught, world.year)


def test_reopening_is_refused_outside_the_window(world, closed):
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.CONFIRMED)
    with pytest.raises(ValidationError) as caught:
        roster_reopen(actor=Actor(world.city_staff, "admin"), roster=roster, reason="补录")
    assert_window_closed(caught, world.year)


def test_fee_publication_is_a_bureau_act_that_reaches_rosters_after_the_window_too(world, closed):
    # GZ 2(3): the real standard is published after the declaration window and schools pay it then.
    fee_standard_publish(actor=Actor(world.city_staff, "admin"), insurance_year=world.year, fee_standard=Decimal("250"))
    assert Enrollment.objects.get().fee_due == Decimal("250.00")
    assert recompute_fees_task(world.year.pk)["enrollments"] == 0


def test_an_exemption_list_after_the_window_updates_the_register_but_not_the_roster(world, closed):
    from enrollment.models import ExemptionCategory

    ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})
    result = exemptions_import(
        actor=Actor(world.city_staff, "admin"), source="civil_affairs",
        rows=[{"identity_number": closed.student.identity_number, "category": "dibao", "valid_from": "2019-01-01"}],
        file_name="late.csv",
    )
    assert result.ok and result.created == 1
    assert result.applied["skipped_window_closed"] == 0 or result.applied["refreshed"] == 0
    assert Enrollment.objects.get().fee_due == Decimal("200.00")


def test_nothing_changes_before_the_window_opens(world):
    future = datetime.date.today() + datetime.timedelta(days=10)
    InsuranceYear.objects.filter(pk=world.year.pk).update(window_start=future, window_end=future + datetime.timedelta(days=30))
    world.year.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    assert_window_closed(caught, world.year)


def test_the_admin_reopen_action_is_refused_outside_the_window_with_the_dates(world, closed, client):
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    Roster.objects.filter(pk=roster.pk).update(state=RosterState.CONFIRMED)
    login(client, world.city_staff)
    response = client.post(
        "/admin/enrollment/roster/",
        {"action": "reopen_rosters", "_selected_action": [roster.pk], "apply": "1", "reason": "补录"},
        follow=True,
    )
    text = response.content.decode()
    assert world.year.window_end.isoformat() in text and "不能退回名单" in text
    assert Roster.objects.get(pk=roster.pk).state == RosterState.CONFIRMED


def test_the_admin_fee_standard_action_publishes_after_the_window_too(world, closed, client):
    login(client, world.city_staff)
    client.post(
        "/admin/enrollment/insuranceyear/",
        {"action": "publish_final_fee_standard", "_selected_action": [world.year.pk], "apply": "1", "fee_standard": "250"},
        follow=True,
    )
    assert InsuranceYear.objects.get(pk=world.year.pk).fee_standard == Decimal("250.00")


def test_the_background_exemption_import_outside_the_window_leaves_rosters_alone(world, closed):
    from django.core.files.base import ContentFile

    from enrollment.models import ExemptionCategory, Job
    from enrollment.tasks.exemptions import exemptions_import_task

    ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})
    job = Job.objects.create(kind=Job.Kind.EXEMPTION_IMPORT, created_by=world.city_staff, params={"source": "civil_affairs"})
    job.input_file.save("x.csv", ContentFile(f"身份证号码,免缴类别,有效期起\n{closed.student.identity_number},dibao,2019-01-01\n".encode()))
    exemptions_import_task(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert Enrollment.objects.get().fee_due == Decimal("200.00")
