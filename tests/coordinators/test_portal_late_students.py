"""The portal: a late student on a confirmed roster waits on the roster page for the supplementary confirmation."""

import datetime

import pytest
from django.urls import reverse

from enrollment.models import Enrollment, InsuranceYear, Roster, RosterConfirmation
from tests.billing.conftest import confirm_roster
from tests.enrollment.test_student_services import _data

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def portal(client, world):
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    client.force_login(world.coordinator, backend=BACKEND)
    return client


def _add(portal, seq=7, **overrides):
    data = _data(seq, **overrides)
    return portal.post(reverse("portal:student_add"), {
        **data, "birth_date": data["birth_date"].isoformat(), "hukou_local": "on",
    })


def _roster(world):
    return Roster.objects.get(school=world.school, insurance_year=world.year)


def test_a_late_student_added_through_the_form_waits_on_the_roster_page_with_preview_and_tick_box(portal, world):
    assert _add(portal, name="迟到生").status_code == 302
    page = portal.get(reverse("portal:roster")).content.decode()
    assert "待补充确认的迟到学生" in page and "迟到生" in page
    assert 'id="supplementary-form"' in page and 'id="id_supplementary_checked"' in page
    number = Enrollment.objects.get(student__name="迟到生").student.identity_number
    assert number not in page  # masked in the list


def test_the_home_page_says_how_many_late_students_await_confirmation(portal, world):
    _add(portal, 7)
    _add(portal, 8)
    home = portal.get(reverse("portal:home")).content.decode()
    assert "2名迟到学生待补充确认" in home


def test_ticking_the_box_confirms_the_late_students_once(portal, world):
    _add(portal, name="迟到生")
    version = _roster(world).version
    refused = portal.post(reverse("portal:roster_confirm_supplementary"), {"version": version}, follow=True)
    assert "请先勾选" in refused.content.decode()
    assert not RosterConfirmation.objects.filter(supplementary=True).exists()
    page = portal.post(reverse("portal:roster_confirm_supplementary"), {"version": version, "checked": "on"}, follow=True)
    text = page.content.decode()
    assert "迟到学生已补充确认：缴费1人" in text and "待补充确认的迟到学生" not in text
    again = portal.post(reverse("portal:roster_confirm_supplementary"), {"version": version, "checked": "on"}, follow=True)
    assert "没有待补充确认的迟到学生" in again.content.decode()
    assert RosterConfirmation.objects.filter(supplementary=True).count() == 1
    assert "2名迟到学生" not in portal.get(reverse("portal:home")).content.decode()


def test_after_the_window_a_locked_city_refuses_the_late_student_and_says_what_to_do(portal, world):
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=True
    )
    response = _add(portal, name="迟到生")
    assert "户籍所在地" in response.content.decode()
    assert not Enrollment.objects.filter(student__name="迟到生").exists()


def test_after_the_window_a_city_that_does_not_lock_takes_the_late_student(portal, world):
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=False
    )
    assert _add(portal, name="迟到生").status_code == 302
    assert "待补充确认的迟到学生" in portal.get(reverse("portal:roster")).content.decode()


def test_the_import_after_the_window_says_what_to_do(world):
    from tests import files
    from tests.enrollment.test_import_students import _import

    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=True
    )
    world.year.refresh_from_db()
    with pytest.raises(Exception) as info:
        _import(world, "students.xlsx", files.xlsx(files.rows(1)))
    assert "户籍所在地" in " ".join(info.value.messages)
