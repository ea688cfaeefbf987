"""Coordinators see each student's coverage on the student page and look a student up by full identity number."""

import logging
import re

import pytest

from enrollment.models import PaymentStatus
from tests.api.data import enroll
from tests.factories import StudentFactory, identity_number, login


@pytest.fixture
def coordinator(client, world):
    return login(client, world.coordinator)


def result(response) -> str:
    """The answer section of the lookup page, without the form (its CSRF token differs between requests)."""
    html = response.content.decode()
    match = re.search(r'<section class="card" id="coverage-result">.*?</section>', html, re.S)
    assert match, html
    return match.group(0)


def test_the_student_page_shows_the_years_coverage_period_and_state(coordinator, world):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    html = coordinator.get(f"/students/{student.pk}/").content.decode()
    assert "本年度参保情况" in html and "已缴费" in html
    assert world.year.coverage_start.isoformat() in html and world.year.coverage_end.isoformat() in html


def test_the_student_page_says_why_a_student_is_not_covered(coordinator, world):
    student = StudentFactory(school=world.school)
    enroll(student, world.year)
    html = coordinator.get(f"/students/{student.pk}/").content.decode()
    assert "待缴费" in html and "未缴费" in html and 'data-state="unpaid"' in html


def test_the_register_shows_each_students_coverage(coordinator, world):
    paid, unpaid = StudentFactory(school=world.school), StudentFactory(school=world.school)
    enroll(paid, world.year, payment_status=PaymentStatus.PAID)
    enroll(unpaid, world.year)
    html = coordinator.get("/students/").content.decode()
    assert html.count('data-state="paid"') == 1 and html.count('data-state="unpaid"') == 1


def test_a_coordinator_finds_a_student_of_the_own_school_shown_masked(coordinator, world):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    response = coordinator.post("/coverage/", {"identity_number": student.identity_number})
    answer = result(response)
    assert student.name in answer and "已缴费" in answer
    assert student.masked_identity_number in answer
    assert student.identity_number not in response.content.decode()


def test_another_schools_number_is_not_found_exactly_like_a_number_nobody_has(coordinator, world):
    elsewhere = StudentFactory(school=world.other_school)
    enroll(elsewhere, world.year, payment_status=PaymentStatus.PAID)
    other_school = result(coordinator.post("/coverage/", {"identity_number": elsewhere.identity_number}))
    nobody = result(coordinator.post("/coverage/", {"identity_number": identity_number()}))
    assert "本校没有该证件号码的学生" in other_school
    assert other_school == nobody


def test_a_malformed_number_is_refused_with_what_is_wrong(coordinator, world):
    html = coordinator.post("/coverage/", {"identity_number": "44010420100315001"}).content.decode()
    assert "coverage-result" not in html and "18" in html


class Everything(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@pytest.fixture
def all_log_output():
    """Every record of the root logger and of Django's loggers (which do not propagate), unfiltered."""
    handler = Everything()
    loggers = [logging.getLogger(name) for name in ("", "django", "django.request", "django.server", "django.db.backends")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


def test_the_number_looked_up_is_logged_nowhere(coordinator, world, all_log_output):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    found = coordinator.post("/coverage/", {"identity_number": student.identity_number})
    elsewhere = StudentFactory(school=world.other_school)
    coordinator.post("/coverage/", {"identity_number": elsewhere.identity_number})
    assert "已缴费" in result(found)
    assert not [line for line in all_log_output if student.identity_number in line or elsewhere.identity_number in line]
