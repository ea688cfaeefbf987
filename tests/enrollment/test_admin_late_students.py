"""The admin: a late student on a confirmed roster can still be corrected; after a locked window, the advice."""

import datetime

from django.urls import reverse

from enrollment.models import Enrollment, InsuranceYear
from enrollment.services.common import Actor
from enrollment.services.students import student_create
from tests.billing.conftest import confirm_roster
from tests.enrollment.test_admin_scoping import admin_client, student_form
from tests.enrollment.test_student_services import _data


def _late(world):
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    return student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data=_data(7, name="迟到生"))


def test_a_late_student_awaiting_the_supplementary_confirmation_is_corrected_in_the_admin(client, world):
    late = _late(world)
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_student_change", args=[late.pk]), student_form(late, class_name="6班"))
    assert response.status_code == 302, response.content.decode()[:3000]
    late.refresh_from_db()
    assert late.class_name == "6班"


def test_a_confirmed_student_is_still_refused_in_the_admin(client, world):
    _late(world)
    confirmed = Enrollment.objects.exclude(student__name="迟到生").first().student
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_student_change", args=[confirmed.pk]), student_form(confirmed, class_name="6班"))
    assert response.status_code == 200 and "参保名单已确认" in response.content.decode()


def test_after_a_locked_window_the_admin_refuses_and_says_what_to_do(client, world):
    late = _late(world)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=yesterday - datetime.timedelta(days=60), window_end=yesterday, locked_after_window=True
    )
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_student_change", args=[late.pk]), student_form(late, class_name="6班"))
    assert response.status_code == 200 and "户籍所在地" in response.content.decode()
    late.refresh_from_db()
    assert late.class_name != "6班"
