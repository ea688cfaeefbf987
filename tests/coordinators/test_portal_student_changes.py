"""Leaving, death and insurance elsewhere on the portal: the city's rule is explained before the coordinator records."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Channel, Enrollment, OtherScheme, StudentStatus
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import StudentFactory

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def student(world, client):
    client.force_login(world.coordinator, backend=BACKEND)
    student = StudentFactory(school=world.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    return student


def test_the_leaving_page_explains_the_citys_rule_on_a_paid_fee(client, student, world):
    page = client.get(reverse("portal:student_leave", args=[student.pk])).content.decode()
    assert "已缴纳的2027费用不退" in page and "下一参保年度起不再为其参保缴费" in page


def test_recording_a_death_with_its_date(client, student):
    day = timezone.localdate() - datetime.timedelta(days=3)
    response = client.post(reverse("portal:student_leave", args=[student.pk]), {"status": "deceased", "on": day.isoformat()}, follow=True)
    assert "已登记为已死亡" in response.content.decode()
    student.refresh_from_db()
    assert (student.status, student.status_changed_on) == (StudentStatus.DECEASED, day)


def test_recording_insurance_elsewhere_with_its_proof(client, student, world):
    response = client.post(reverse("portal:student_elsewhere", args=[student.pk]), {
        "scheme": OtherScheme.EMPLOYEE, "place": "广州市", "valid_until": world.year.coverage_end.isoformat(), "detail": "单位参保证明",
    })
    assert response.status_code == 302
    assert Enrollment.objects.get(student=student).channel == Channel.INSURED_ELSEWHERE


def test_another_schools_coordinator_cannot_open_these_pages(client, student, world):
    client.force_login(world.other_coordinator, backend=BACKEND)
    assert client.get(reverse("portal:student_leave", args=[student.pk])).status_code == 404
    assert client.post(reverse("portal:student_elsewhere", args=[student.pk]), {}).status_code == 404


def test_marking_a_student_left_from_the_student_page_tells_what_happens_to_the_fee(client, student):
    day = timezone.localdate() - datetime.timedelta(days=1)
    response = client.post(reverse("portal:student_status", args=[student.pk]), {"status": "left", "on": day.isoformat()}, follow=True)
    assert "已登记为已离校，已从本年度缴费名单中剔除，不会扣费" in response.content.decode()
