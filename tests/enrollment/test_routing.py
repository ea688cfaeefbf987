"""Channel routing from each city's ChannelRule rows (R6): no city is special-cased in code."""

import pytest

from enrollment.models import (
    Channel,
    ChannelRule,
    Enrollment,
    MedicalAssistance,
    PaymentStatus,
    SchoolKind,
)
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import CityFactory, InsuranceYearFactory, OfficeFactory, SchoolFactory, StudentFactory

GUANGZHOU_RULES = [
    ("public_funded_care", "public_funded"),
    ("rural_hukou", "village_committee"),
    ("medical_assistance_civil", "civil_affairs"),
    ("medical_assistance_disabled", "disabled_federation"),
]
SUZHOU_RULES = [("non_local_school", "community_office")]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def add_rules(year, rules, school_kinds=""):
    for order, (condition, channel) in enumerate(rules, start=1):
        ChannelRule.objects.create(
            insurance_year=year, order=order, condition=condition, channel=channel, school_kinds=school_kinds
        )


def actor_for(user):
    return Actor(user=user, source="admin")


@pytest.fixture
def guangzhou(world):
    add_rules(world.year, GUANGZHOU_RULES)
    return world


@pytest.fixture
def suzhou(db):
    city = CityFactory(code="suzhou", name="苏州市")
    office = OfficeFactory(code="sz-centre", city=city, name="苏州市社保中心", district="姑苏区")
    year = InsuranceYearFactory(city=city, label="2020", fee_standard="140.00")
    add_rules(year, SUZHOU_RULES)
    local = SchoolFactory(code="SZ-U-1", kind=SchoolKind.UNIVERSITY, office=office, is_local=True)
    non_local = SchoolFactory(code="SZ-U-2", kind=SchoolKind.UNIVERSITY, office=office, is_local=False)
    return year, local, non_local


@pytest.mark.parametrize(
    ("attrs", "channel"),
    [
        ({}, Channel.SCHOOL),
        ({"hukou_rural": True}, Channel.VILLAGE_COMMITTEE),
        ({"medical_assistance": MedicalAssistance.CIVIL_AFFAIRS}, Channel.CIVIL_AFFAIRS),
        ({"medical_assistance": MedicalAssistance.DISABLED_FEDERATION}, Channel.DISABLED_FEDERATION),
        ({"public_funded_care": True}, Channel.PUBLIC_FUNDED),
    ],
)
def test_guangzhou_students_enroll_through_the_channel_their_rules_give(guangzhou, attrs, channel):
    student = StudentFactory(school=guangzhou.school, **attrs)
    enrollment = enrollment_refresh(actor=actor_for(guangzhou.coordinator), student=student, insurance_year=guangzhou.year)
    assert enrollment.channel == channel
    if channel == Channel.SCHOOL:
        assert enrollment.fee_due == guangzhou.year.fee_standard
        assert enrollment.channel_reason == ""
    else:
        assert enrollment.fee_due == 0
        assert enrollment.payment_status == PaymentStatus.NOT_CHARGED
        assert enrollment.channel_reason  # the stored reason names the rule


def test_the_first_matching_rule_wins(guangzhou):
    student = StudentFactory(school=guangzhou.school, hukou_rural=True, public_funded_care=True)
    enrollment = enrollment_refresh(actor=actor_for(guangzhou.coordinator), student=student, insurance_year=guangzhou.year)
    assert enrollment.channel == Channel.PUBLIC_FUNDED


def test_suzhou_students_of_a_non_local_school_enroll_through_the_community_office(suzhou):
    year, local, non_local = suzhou
    here = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=local), insurance_year=year)
    away = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=non_local), insurance_year=year)
    assert (here.channel, here.fee_due) == (Channel.SCHOOL, year.fee_standard)
    assert (away.channel, away.fee_due) == (Channel.COMMUNITY_OFFICE, 0)


def test_suzhou_rules_do_not_route_rural_students_away_from_the_school(suzhou):
    year, local, _ = suzhou
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=local, hukou_rural=True), insurance_year=year)
    assert enrollment.channel == Channel.SCHOOL


def test_a_rule_limited_to_some_school_kinds_skips_other_schools(world):
    add_rules(world.year, [("rural_hukou", "village_committee")], school_kinds="university")
    student = StudentFactory(school=world.school, hukou_rural=True)  # a primary/secondary school
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.channel == Channel.SCHOOL


def test_a_year_without_rules_puts_everyone_on_the_school_roster(world):
    student = StudentFactory(school=world.school, hukou_rural=True, public_funded_care=True)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.channel == Channel.SCHOOL


def test_changing_a_student_reroutes_the_existing_enrollment_instead_of_adding_one(guangzhou):
    student = StudentFactory(school=guangzhou.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=guangzhou.year)
    student.hukou_rural = True
    student.save()
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=guangzhou.year)
    assert enrollment.channel == Channel.VILLAGE_COMMITTEE
    assert Enrollment.objects.filter(student=student).count() == 1
