"""Transfers on the portal: the new school asks by number, the old school sees it on its home page and decides."""

import pytest
from django.urls import reverse

from enrollment.identity import mask
from enrollment.models import Enrollment, PaymentStatus, Student, Transfer
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import (
    CityFactory,
    InsuranceYearFactory,
    OfficeFactory,
    SchoolFactory,
    StudentFactory,
    make_user,
)

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def student(world):
    student = StudentFactory(school=world.school, name="王小明")
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    return student


def as_user(client, user):
    client.force_login(user, backend=BACKEND)
    return client


def ask(client, world, number):
    return as_user(client, world.other_coordinator).post(reverse("portal:transfers"), {"identity_number": number, "note": "九月转入"})


def test_the_new_school_asks_and_sees_only_the_name_and_the_masked_number(client, world, student):
    response = ask(client, world, student.identity_number)
    assert response.status_code == 302
    page = client.get(reverse("portal:transfers")).content.decode()
    assert "王小明" in page and mask(student.identity_number) in page
    assert student.identity_number not in page
    # Until the old school agrees, the student's page stays the old school's.
    assert client.get(reverse("portal:student_edit", args=[student.pk])).status_code == 404


def test_the_old_school_sees_the_request_on_its_home_page_and_accepts_it(client, world, student):
    ask(client, world, student.identity_number)
    as_user(client, world.coordinator)
    home = client.get(reverse("portal:home")).content.decode()
    assert "1份转学申请等待本校处理" in home and reverse("portal:transfers") in home
    transfer = Transfer.objects.get()
    response = client.post(reverse("portal:transfer_accept", args=[transfer.pk]), follow=True)
    assert "王小明已转入海珠第一中学" in response.content.decode()
    assert Student.objects.get(pk=student.pk).school == world.other_school
    assert "转学申请等待本校处理" not in client.get(reverse("portal:home")).content.decode()


def test_a_refusal_needs_a_reason_the_new_school_then_reads(client, world, student):
    ask(client, world, student.identity_number)
    transfer = Transfer.objects.get()
    as_user(client, world.coordinator)
    client.post(reverse("portal:transfer_refuse", args=[transfer.pk]), {"reason": ""})
    assert Transfer.objects.get().state == Transfer.State.PENDING
    client.post(reverse("portal:transfer_refuse", args=[transfer.pk]), {"reason": "该生仍在本校就读"})
    page = as_user(client, world.other_coordinator).get(reverse("portal:transfers")).content.decode()
    assert "已拒绝：该生仍在本校就读" in page


def test_neither_the_asking_school_nor_a_third_school_can_decide(client, world, student):
    ask(client, world, student.identity_number)
    transfer = Transfer.objects.get()
    third = make_user("coord-third", role="coordinator", school=SchoolFactory(office=world.office))
    for user in (world.other_coordinator, third):
        as_user(client, user)
        assert client.post(reverse("portal:transfer_accept", args=[transfer.pk])).status_code == 404
        assert client.post(reverse("portal:transfer_refuse", args=[transfer.pk]), {"reason": "x"}).status_code == 404
    assert "王小明" not in client.get(reverse("portal:transfers")).content.decode().split('id="transfers"')[1]
    assert Transfer.objects.get().state == Transfer.State.PENDING


def test_a_student_of_another_city_is_refused_with_what_to_do(client, world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    InsuranceYearFactory(city=suzhou, label="2027")
    elsewhere = StudentFactory(school=SchoolFactory(office=OfficeFactory(code="sz-centre", city=suzhou)))
    page = ask(client, world, elsewhere.identity_number).content.decode()
    # Which city is not said: the asking school learns no more of a minor than the request needs.
    assert "跨城市不能办理转学" in page and "苏州市" not in page
    assert not Transfer.objects.exists()


def test_a_student_who_paid_at_the_old_school_is_shown_apart_on_the_new_roster_and_not_counted_as_paying(client, world, student):
    Enrollment.objects.filter(student=student).update(payment_status=PaymentStatus.PAID)
    ask(client, world, student.identity_number)
    transfer = Transfer.objects.get()
    as_user(client, world.coordinator).post(reverse("portal:transfer_accept", args=[transfer.pk]))
    page = as_user(client, world.other_coordinator).get(reverse("portal:roster")).content.decode()
    assert 'id="preview-paying">0<' in page
    assert 'id="preview-paid-before-transfer">1<' in page
