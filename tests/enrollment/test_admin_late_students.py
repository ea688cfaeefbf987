"""The admin: a student added to a confirmed roster goes to the supplementary confirmation; after a locked window, the advice."""

import datetime

from django.urls import reverse

from enrollment.models import Enrollment, InsuranceYear, Student
from enrollment.selectors import late_enrollments
from enrollment.services.common import roster_get_or_create
from tests.billing.conftest import confirm_roster
from tests.enrollment.test_admin_scoping import admin_client
from tests.enrollment.test_student_services import _data


def _form(world, seq=7, **overrides):
    data = _data(seq, **overrides)
    return {
        "identity_number": data["identity_number"], "name": data["name"], "sex": data["sex"],
        "birth_date": data["birth_date"].isoformat(), "grade": data["grade"], "class_name": data["class_name"],
        "hukou_local": "on", "school": world.school.pk,
    }


def test_a_student_added_in_the_admin_to_a_confirmed_roster_awaits_the_supplementary_confirmation(client, world):
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_student_add"), _form(world, name="迟到生"))
    assert response.status_code == 302, response.content.decode()[:2000]
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    assert [e.student.name for e in late_enrollments(roster=roster)] == ["迟到生"]


def test_after_a_locked_window_the_admin_refuses_and_says_what_to_do(client, world):
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=True
    )
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_student_add"), _form(world, name="迟到生"))
    assert response.status_code == 200 and "户籍所在地" in response.content.decode()
    assert not Student.objects.filter(name="迟到生").exists() and Enrollment.objects.count() == 2
