"""Bureau staff remind lagging schools from the dashboard; who sent what, when is recorded and shown."""

import pytest

from coordinators.models import Notice, ReminderSent
from enrollment.models import AuditEvent, Roster, RosterState
from tests.api.data import school_with_students
from tests.factories import login


@pytest.fixture
def lagging(world):
    """School A: 1 of 4 paid, roster open (lagging). School B: all paid, roster confirmed (not lagging)."""
    school_with_students(world.school, world.year, paid=1, unpaid=3)
    school_with_students(world.other_school, world.year, paid=2)
    Roster.objects.filter(school=world.other_school).update(state=RosterState.CONFIRMED)
    return world


def send(client, user, world, schools, threshold=90):
    login(client, user)
    return client.post("/bureau/reminders/", {"year": world.year.pk, "threshold": threshold,
                                              "school": [s.pk for s in schools]}, follow=True)


def test_the_dashboard_lists_the_schools_below_the_chosen_threshold_to_remind(client, lagging):
    login(client, lagging.city_staff)
    html = client.get(f"/bureau/?year={lagging.year.pk}&threshold=90").content.decode()
    assert f'name="school" value="{lagging.school.pk}"' in html
    assert f'name="school" value="{lagging.other_school.pk}"' not in html


def test_sending_records_who_when_and_what_and_shows_it_on_the_dashboard(client, lagging):
    response = send(client, lagging.city_staff, lagging, [lagging.school])
    reminder = ReminderSent.objects.get()
    assert (reminder.school, reminder.sent_by, reminder.threshold_percent) == (lagging.school, lagging.city_staff, 90)
    assert reminder.sent_at is not None and reminder.notice.kind == Notice.Kind.REMINDER
    assert "参保率25.0%" in reminder.notice.body and "尚未确认" in reminder.notice.body
    audit = AuditEvent.objects.get(action="reminder_sent")
    assert (audit.actor, audit.school_id, audit.note) == (lagging.city_staff, lagging.school.pk, reminder.notice.title)
    html = response.content.decode()
    assert "已向1所学校的协管员发送参保提醒" in html
    log = html[html.index('id="reminder-log"'):]
    assert "staff-city" in log and reminder.notice.title in log and lagging.school.name in log


def test_the_schools_coordinator_sees_the_reminder_and_the_other_school_does_not(client, lagging):
    send(client, lagging.city_staff, lagging, [lagging.school])
    title = ReminderSent.objects.get().notice.title
    login(client, lagging.coordinator)
    assert title in client.get("/").content.decode()
    login(client, lagging.other_coordinator)
    assert title not in client.get("/").content.decode()


def test_district_staff_cannot_remind_a_school_of_another_district(client, lagging):
    response = send(client, lagging.district_staff, lagging, [lagging.other_school])
    assert "请先勾选要提醒的学校" in response.content.decode()
    assert not ReminderSent.objects.exists() and not Notice.objects.exists()


def test_the_nightly_reminder_shows_in_the_log_as_automatic(client, lagging):
    from coordinators.services.reminders import reminders_send

    reminders_send(today=lagging.year.window_end)
    login(client, lagging.district_staff)
    html = client.get(f"/bureau/?year={lagging.year.pk}").content.decode()
    log = html[html.index('id="reminder-log"'):]
    assert "每日自动提醒（截止前1天）" in log


def test_another_districts_staff_do_not_see_the_reminder_in_their_log(client, lagging):
    send(client, lagging.city_staff, lagging, [lagging.school])
    login(client, lagging.other_district_staff)
    html = client.get(f"/bureau/?year={lagging.year.pk}").content.decode()
    log = html[html.index('id="reminder-log"'):]
    assert lagging.school.name not in log and "本年度尚未发送提醒" in log


def test_coordinators_with_an_email_address_also_get_the_reminder_by_mail(client, lagging, settings,
                                                                          django_capture_on_commit_callbacks):
    from django.core import mail

    from coordinators.models import Coordinator

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Coordinator.objects.create(school=lagging.school, name="王老师", gender="F", department="教务处", post="干事",
                               work_phone="020-1", mobile="13800000000", email="wang@example.cn")
    with django_capture_on_commit_callbacks(execute=True):
        send(client, lagging.city_staff, lagging, [lagging.school])
    assert [m.to for m in mail.outbox] == [["wang@example.cn"]]
    assert mail.outbox[0].subject == ReminderSent.objects.get().notice.title


@pytest.mark.parametrize("odd", ["²", "１２", "9" * 30])
def test_a_threshold_school_or_year_that_is_no_plain_number_is_ignored_or_not_found_never_an_error(client, lagging, odd):
    login(client, lagging.city_staff)
    assert client.get(f"/bureau/?year={lagging.year.pk}&threshold={odd}").status_code == 200
    response = client.post("/bureau/reminders/", {"year": lagging.year.pk, "threshold": odd, "school": [odd]}, follow=True)
    assert "请先勾选要提醒的学校" in response.content.decode()
    assert client.get("/bureau/", {"year": odd}).status_code == 404
    assert not ReminderSent.objects.exists()
