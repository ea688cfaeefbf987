"""Bureau staff look a student's coverage up from the dashboard, within their district or their city only."""

import re

from enrollment.models import PaymentStatus
from tests.api.data import enroll
from tests.factories import (
    CityFactory,
    InsuranceYearFactory,
    OfficeFactory,
    SchoolFactory,
    StudentFactory,
    identity_number,
    login,
    make_user,
)


def look_up(client, user, number) -> str:
    """The answer section of the lookup page (the form's CSRF token differs between requests)."""
    login(client, user)
    response = client.post("/bureau/coverage/", {"identity_number": number})
    assert response.status_code == 200
    match = re.search(r'<section class="card" id="coverage-result">.*?</section>', response.content.decode(), re.S)
    assert match, response.content.decode()
    return match.group(0)


def paid_student(school, year):
    student = StudentFactory(school=school)
    enroll(student, year, payment_status=PaymentStatus.PAID)
    return student


def test_the_dashboard_offers_the_lookup(client, world):
    login(client, world.district_staff)
    html = client.get("/bureau/").content.decode()
    assert 'action="/bureau/coverage/"' in html and 'name="identity_number"' in html


def test_district_staff_find_a_student_of_their_district_with_school_state_and_period(client, world):
    student = paid_student(world.school, world.year)
    answer = look_up(client, world.district_staff, student.identity_number)
    assert student.name in answer and world.school.name in answer and "已缴费" in answer
    assert world.year.coverage_end.isoformat() in answer
    assert student.masked_identity_number in answer and student.identity_number not in answer


def test_another_districts_student_is_not_found_exactly_like_a_number_nobody_has(client, world):
    student = paid_student(world.other_school, world.year)
    other_district = look_up(client, world.district_staff, student.identity_number)
    nobody = look_up(client, world.district_staff, identity_number())
    assert "没有该证件号码的学生" in other_district
    assert other_district == nobody
    assert student.name in look_up(client, world.other_district_staff, student.identity_number)


def test_city_staff_of_two_cities_each_find_only_their_own_citys_students(client, world):
    suzhou = CityFactory(code="suzhou", name="苏州市")
    centre = OfficeFactory(code="sz-centre", city=suzhou, name="苏州市社保中心", district="姑苏区")
    suzhou_year = InsuranceYearFactory(city=suzhou, label="2027", fee_standard="140.00")
    suzhou_student = paid_student(SchoolFactory(code="SZ-U-001", name="苏州大学", office=centre), suzhou_year)
    guangzhou_student = paid_student(world.other_school, world.year)
    suzhou_staff = make_user("staff-suzhou", role="city_staff", city=suzhou, staff=True)
    nobody = look_up(client, world.city_staff, identity_number())

    assert guangzhou_student.name in look_up(client, world.city_staff, guangzhou_student.identity_number)
    assert look_up(client, world.city_staff, suzhou_student.identity_number) == nobody
    found = look_up(client, suzhou_staff, suzhou_student.identity_number)
    assert suzhou_student.name in found and str(suzhou_year) in found
    assert look_up(client, suzhou_staff, guangzhou_student.identity_number) == look_up(client, suzhou_staff, identity_number())


def test_each_state_reads_the_same_as_on_the_coordinators_page(client, world):
    unpaid = StudentFactory(school=world.school)
    enroll(unpaid, world.year)
    answer = look_up(client, world.city_staff, unpaid.identity_number)
    assert 'data-state="unpaid"' in answer and "未缴费" in answer

