"""What billing charges, read from the core as rows to join: live confirmations and the accounts to debit."""

import datetime

import pytest
from django.db import connection

from enrollment.models import Bank, SchoolAccount
from enrollment.rowset import RowSet
from enrollment.selectors import confirmation_charges, school_debit_accounts
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from enrollment.services.rosters import roster_confirm, roster_reopen
from tests.factories import StudentFactory


def rows(rowset: RowSet) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({rowset.sql}) t ORDER BY 1", rowset.params)
        return cursor.fetchall()


@pytest.fixture
def confirmed(world):
    StudentFactory.create_batch(3, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    roster.refresh_from_db()
    return roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)


def test_confirmation_charges_give_each_live_confirmation_with_its_paying_lines(world, confirmed):
    (row,) = rows(confirmation_charges(insurance_year_id=world.year.pk))
    assert row == (
        confirmed.pk, confirmed.roster_id, world.year.pk, world.school.pk, confirmed.paying_count, confirmed.total_amount,
        False,
    )


def test_a_reopened_roster_charges_nothing(world, confirmed):
    roster_reopen(actor=Actor(world.district_staff, "admin"), roster=confirmed.roster, reason="名单有误")
    assert rows(confirmation_charges(insurance_year_id=world.year.pk)) == []


def test_school_debit_accounts_need_a_signed_agreement_at_a_bank_allowed_in_the_city(world):
    allowed = Bank.objects.create(code="icbc-t", name="工商银行")
    allowed.allowed_in.add(world.city)
    elsewhere = Bank.objects.create(code="boc-t", name="中国银行")
    signed = SchoolAccount.objects.create(
        school=world.school, bank=allowed, account_number="6222020000012345678", holder_name=world.school.name,
        agreement_signed_on=datetime.date(2026, 7, 1), active=True,
    )
    SchoolAccount.objects.create(
        school=world.other_school, bank=elsewhere, account_number="6222020000012345679",
        holder_name=world.other_school.name, agreement_signed_on=datetime.date(2026, 7, 1), active=True,
    )
    assert rows(school_debit_accounts()) == [(world.school.pk, signed.pk, allowed.pk)]
