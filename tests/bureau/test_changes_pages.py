"""Bureau pages: transfers decided for the old school, follow-up of students sent to other channels, each in scope."""

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ChannelRule, Student, Transfer
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.transfers import transfer_request
from tests.factories import StudentFactory

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def rural(world):
    ChannelRule.objects.create(insurance_year=world.year, order=1, condition=ChannelRule.Condition.RURAL_HUKOU,
                               channel="village_committee")
    student = StudentFactory(school=world.school, hukou_rural=True, name="李村生")
    return enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)


@pytest.fixture
def transfer(world):
    student = StudentFactory(school=world.school, name="张转学")
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    return transfer_request(actor=Actor(user=world.other_coordinator, source="portal"), to_school=world.other_school,
                            identity_number=student.identity_number)


def test_district_staff_follow_up_their_schools_students_and_the_report_shows_it(client, world, rural):
    client.force_login(world.district_staff, backend=BACKEND)
    page = client.get(reverse("bureau:follow_ups")).content.decode()
    assert "李村生" in page and rural.student.identity_number not in page
    assert "已确认 0 人，待跟进 1 人" in client.get(reverse("bureau:dashboard")).content.decode()
    client.post(reverse("bureau:follow_up_record", args=[rural.pk]), {"enrolled_on": timezone.localdate().isoformat(), "place": "某村民委员会"})
    assert "李村生" not in client.get(reverse("bureau:follow_ups")).content.decode().split('id="follow-ups"')[1]
    assert "已确认 1 人，待跟进 0 人" in client.get(reverse("bureau:dashboard")).content.decode()


def test_staff_of_another_district_neither_see_nor_record_the_follow_up(client, world, rural):
    client.force_login(world.other_district_staff, backend=BACKEND)
    assert "李村生" not in client.get(reverse("bureau:follow_ups")).content.decode()
    response = client.post(reverse("bureau:follow_up_record", args=[rural.pk]),
                           {"enrolled_on": timezone.localdate().isoformat(), "place": "某村"})
    assert response.status_code == 404


def test_district_staff_of_the_old_school_decide_a_transfer(client, world, transfer):
    client.force_login(world.district_staff, backend=BACKEND)
    assert "张转学" in client.get(reverse("bureau:transfers")).content.decode()
    client.post(reverse("bureau:transfer_decide", args=[transfer.pk]), {"decision": "accept"})
    assert Student.objects.get(pk=transfer.student_id).school == world.other_school


def test_staff_of_another_district_cannot_decide_a_transfer(client, world, transfer):
    client.force_login(world.other_district_staff, backend=BACKEND)
    assert "张转学" not in client.get(reverse("bureau:transfers")).content.decode()
    assert client.post(reverse("bureau:transfer_decide", args=[transfer.pk]), {"decision": "accept"}).status_code == 404
    assert Transfer.objects.get().state == Transfer.State.PENDING
