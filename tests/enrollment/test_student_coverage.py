"""One selector answers every page's coverage question: each state, its period and reason, alone or in bulk."""

import datetime

from django.utils import timezone

from enrollment.models import Channel, EnrollmentStatus, ExemptionCategory, PaymentStatus, Roster, RosterState
from enrollment.selectors_coverage import (
    COVERAGE_STATES,
    coverage_search,
    student_coverage,
    students_coverage,
)
from tests.api.data import enroll
from tests.factories import StudentFactory


def confirm_roster(world):
    Roster.objects.update_or_create(school=world.school, insurance_year=world.year, defaults={"state": RosterState.CONFIRMED})


def coverage_of(world, *, enrolled=True, **enrollment):
    student = StudentFactory(school=world.school)
    if enrolled:
        enroll(student, world.year, **enrollment)
    return student_coverage(student=student, insurance_year=world.year)


def test_a_paid_student_is_covered_for_the_years_coverage_dates(world):
    answer = coverage_of(world, payment_status=PaymentStatus.PAID)
    assert (answer.state, answer.kind, answer.covered) == ("paid", "covered", True)
    assert (answer.covered_from, answer.covered_to) == (world.year.coverage_start, world.year.coverage_end)
    assert answer.label == "已缴费"


def test_an_exempt_student_is_covered_once_the_roster_is_confirmed_and_the_category_is_named(world):
    category = ExemptionCategory.objects.create(city=world.city, code="dibao", name="最低生活保障对象")
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.FUNDED, exemption_category=category)
    before = student_coverage(student=student, insurance_year=world.year)
    assert (before.state, before.kind, before.covered) == ("awaiting_confirmation", "awaiting", False)
    confirm_roster(world)
    after = student_coverage(student=student, insurance_year=world.year)
    assert (after.state, after.covered, after.covered_to) == ("exempt", True, world.year.coverage_end)
    assert "最低生活保障对象" in after.reason


def test_an_unpaid_student_awaits_payment_and_is_told_so(world):
    answer = coverage_of(world)
    assert (answer.state, answer.kind, answer.covered, answer.reason) == ("unpaid", "awaiting", False, "未缴费")
    assert answer.covered_from is None and answer.coverage_from == world.year.coverage_start


def test_a_billed_student_awaits_the_money(world):
    answer = coverage_of(world, payment_status=PaymentStatus.BILLED)
    assert (answer.state, answer.kind, answer.covered) == ("billed", "awaiting", False)


def test_a_student_routed_to_another_channel_is_shown_there_with_the_channel_and_its_reason(world):
    student = StudentFactory(school=world.school)
    enrollment = enroll(student, world.year, channel=Channel.VILLAGE_COMMITTEE, payment_status=PaymentStatus.NOT_CHARGED)
    enrollment.channel_reason = "农村户籍"
    enrollment.save(update_fields=["channel_reason"])
    answer = student_coverage(student=student, insurance_year=world.year)
    assert (answer.state, answer.kind, answer.channel) == ("other_channel", "elsewhere", "village_committee")
    assert "村民委员会" in answer.reason and "农村户籍" in answer.reason


def test_a_student_under_public_funded_care_is_not_in_the_scheme(world):
    student = StudentFactory(school=world.school, public_funded_care=True)
    answer = student_coverage(student=student, insurance_year=world.year)
    assert (answer.state, answer.kind) == ("public_funded", "elsewhere")


def test_a_removed_student_is_not_covered_and_the_reason_is_given(world):
    student = StudentFactory(school=world.school)
    enrollment = enroll(student, world.year, status=EnrollmentStatus.REMOVED)
    enrollment.status_reason = "重复登记"
    enrollment.save(update_fields=["status_reason"])
    answer = student_coverage(student=student, insurance_year=world.year)
    assert (answer.state, answer.kind, answer.covered) == ("stopped", "not_covered", False)
    assert "重复登记" in answer.reason


def test_a_payment_after_the_window_and_a_refund_do_not_cover(world):
    student = StudentFactory(school=world.school)
    enrollment = enroll(student, world.year, payment_status=PaymentStatus.PAID)
    late = world.year.window_end + datetime.timedelta(days=2)
    enrollment.paid_at = timezone.make_aware(datetime.datetime.combine(late, datetime.time(9)))
    enrollment.save(update_fields=["paid_at"])
    assert student_coverage(student=student, insurance_year=world.year).state == "paid_late"
    assert coverage_of(world, payment_status=PaymentStatus.REFUNDED).state == "refunded"


def test_a_student_without_enrollment_and_an_unknown_number_are_not_enrolled(world):
    assert coverage_of(world, enrolled=False).state == "not_enrolled"
    answer = student_coverage(student=None, insurance_year=world.year)
    assert (answer.state, answer.covered, answer.student) == ("not_enrolled", False, None)


def test_every_state_has_a_code_a_label_and_a_kind(world):
    codes = [rule.code for rule in COVERAGE_STATES]
    assert len(codes) == len(set(codes))
    assert all(str(rule.label) and rule.kind in {"covered", "awaiting", "elsewhere", "not_covered"} for rule in COVERAGE_STATES)
    assert COVERAGE_STATES[-1].when is not None


def test_the_bulk_form_gives_each_student_the_same_answer_in_three_queries(world, django_assert_num_queries):
    confirm_roster(world)
    students = [StudentFactory(school=world.school) for _ in range(6)]
    for student, status in zip(students, [PaymentStatus.PAID, PaymentStatus.UNPAID, PaymentStatus.BILLED,
                                          PaymentStatus.FUNDED, PaymentStatus.REFUNDED], strict=False):
        enroll(student, world.year, payment_status=status)
    with django_assert_num_queries(2):
        bulk = students_coverage(students=students, insurance_year=world.year)
    single = {s.pk: student_coverage(student=s, insurance_year=world.year).state for s in students}
    assert {pk: answer.state for pk, answer in bulk.items()} == single
    assert [bulk[s.pk].state for s in students] == ["paid", "unpaid", "billed", "exempt", "refunded", "not_enrolled"]


def test_the_search_finds_a_number_only_inside_the_users_scope(world):
    student = StudentFactory(school=world.other_school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    number = student.identity_number
    assert coverage_search(user=world.coordinator, identity_number=number) is None
    assert coverage_search(user=world.district_staff, identity_number=number) is None
    assert coverage_search(user=world.other_coordinator, identity_number=number).state == "paid"
    assert coverage_search(user=world.other_district_staff, identity_number=number).state == "paid"
    assert coverage_search(user=world.city_staff, identity_number=number).state == "paid"
