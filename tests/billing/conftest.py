"""Billing fixtures: banks allowed in the city, school accounts, and rosters confirmed through the core service."""

import datetime
from decimal import Decimal

import pytest

from enrollment.models import Channel, CollectionRoute, Enrollment, ExemptionCategory, Roster
from enrollment.services.common import Actor
from enrollment.services.rosters import roster_confirm
from tests.factories import BankFactory, SchoolAccountFactory, SchoolFactory, StudentFactory


def make_bank(city, code="ICBC", name=None, file_format="default"):
    bank = BankFactory(code=code, name=name or f"银行{code}", file_format=file_format)
    bank.allowed_in.add(city)
    return bank


def make_account(school, bank, *, signed=True, **kwargs):
    return SchoolAccountFactory(
        school=school, bank=bank, agreement_signed_on=datetime.date(2014, 7, 1) if signed else None, **kwargs
    )


def confirm_roster(school, year, user, *, paying=3, exempt=0, fee=None):
    """Register ``paying`` + ``exempt`` students on the school's roster and confirm it with roster_confirm."""
    fee = year.fee_standard if fee is None else fee
    category = None
    if exempt:
        category, _ = ExemptionCategory.objects.get_or_create(city=school.office.city, code="dibao", defaults={"name": "低保"})
    for index in range(paying + exempt):
        student = StudentFactory(school=school)
        is_exempt = index >= paying
        Enrollment.objects.create(
            student=student, insurance_year=year, school=school, channel=Channel.SCHOOL,
            fee_due=Decimal("0.00") if is_exempt else fee, exemption_category=category if is_exempt else None,
        )
    roster, _ = Roster.objects.get_or_create(school=school, insurance_year=year)
    return roster_confirm(actor=Actor(user=user, source="portal"), roster=roster, checked=True)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def bank(world):
    return make_bank(world.city)


@pytest.fixture
def debit_world(world, bank):
    """Both schools with accounts at the same allowed bank and a confirmed roster (3 paying, 1 exempt / 2 paying)."""
    make_account(world.school, bank)
    make_account(world.other_school, bank)
    world.confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=3, exempt=1)
    world.other_confirmation = confirm_roster(world.other_school, world.year, world.other_coordinator, paying=2)
    world.bank = bank
    return world


@pytest.fixture
def tax_world(world):
    """A Suzhou-style tax-declaration year with the school's roster confirmed."""
    world.year.collection_route = CollectionRoute.TAX_DECLARATION
    world.year.fee_standard = Decimal("140.00")
    world.year.save()
    world.confirmation = confirm_roster(world.school, world.year, world.coordinator, paying=3, exempt=1)
    return world


def extra_school(world, code, bank=None, *, paying=2, user=None):
    school = SchoolFactory(code=code, office=world.office)
    if bank is not None:
        make_account(school, bank)
    return school, confirm_roster(school, world.year, user or world.coordinator, paying=paying)
