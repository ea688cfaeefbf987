import datetime

import pytest
from django.core import mail

from coordinators.models import Coordinator, Notice, ReminderSent
from coordinators.services.reminders import reminders_send, threshold_for
from enrollment.models import Roster, RosterState
from tests.api.data import school_with_students


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LAGGING_COVERAGE_PERCENT = 95


def coordinator(school, email, active=True):
    return Coordinator.objects.create(
        school=school, name="李老师", gender="F", department="教务处", post="干事", work_phone="020-1234567",
        mobile="13800138000", email=email, active=active,
    )


def fourteen_days_before_close(year):
    return year.window_end - datetime.timedelta(days=14)


def test_reminders_run_twice_send_one_notice_and_one_email(world, django_capture_on_commit_callbacks):
    school_with_students(world.school, world.year, paid=1, unpaid=3)
    coordinator(world.school, "li@school.example")
    coordinator(world.school, "gone@school.example", active=False)
    today = fourteen_days_before_close(world.year)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(today=today) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(today=today) == 0
    notice = Notice.objects.get()
    assert notice.kind == Notice.Kind.REMINDER and notice.school == world.school
    assert "25.0%" in notice.body
    assert [m.to for m in mail.outbox] == [["li@school.example"]]
    assert ReminderSent.objects.get().days_before == 14


def test_each_threshold_reminds_again(world, django_capture_on_commit_callbacks):
    school_with_students(world.school, world.year, unpaid=2)
    close = world.year.window_end
    with django_capture_on_commit_callbacks(execute=True):
        sent = [reminders_send(today=close - datetime.timedelta(days=d)) for d in (30, 29, 14, 7, 1, 0)]
    assert sent == [1, 0, 1, 1, 1, 0]
    assert Notice.objects.filter(school=world.school).count() == 4


def test_schools_well_covered_and_confirmed_are_not_reminded(world, django_capture_on_commit_callbacks):
    school_with_students(world.school, world.year, paid=20)
    Roster.objects.filter(school=world.school).update(state=RosterState.CONFIRMED)
    school_with_students(world.other_school, world.year, paid=20)  # covered, but the roster is not confirmed
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(today=fourteen_days_before_close(world.year)) == 1
    assert list(Notice.objects.values_list("school", flat=True)) == [world.other_school.pk]


def test_no_reminder_outside_the_last_thirty_days(world):
    school_with_students(world.school, world.year, unpaid=2)
    assert reminders_send(today=world.year.window_end - datetime.timedelta(days=31)) == 0
    assert not Notice.objects.exists()


def test_missed_night_still_reminds_under_the_threshold():
    assert threshold_for(13) == 14
    assert threshold_for(30) == 30
    assert threshold_for(31) is None
    assert threshold_for(0) == 1


def test_the_reminder_shows_on_the_schools_portal_home(client, world, django_capture_on_commit_callbacks):
    school_with_students(world.school, world.year, unpaid=2)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send(today=fourteen_days_before_close(world.year))
    title = Notice.objects.get().title
    world.coordinator.refresh_from_db()
    client.force_login(world.coordinator, backend="enrollment.auth.MembershipBackend")
    assert title in client.get("/").content.decode()
    world.other_coordinator.refresh_from_db()
    client.force_login(world.other_coordinator, backend="enrollment.auth.MembershipBackend")
    assert title not in client.get("/").content.decode()
