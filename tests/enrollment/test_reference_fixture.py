"""The reference data of both notices loads, and loads again without duplicating anything."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from enrollment.models import Bank, ChannelRule, City, ExemptionCategory, Hotline, InsuranceYear, Office

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    call_command("loaddata", "reference", verbosity=0)


def test_loading_the_reference_data_twice_leaves_one_copy_of_each_row(loaded):
    call_command("loaddata", "reference", verbosity=0)
    assert City.objects.count() == 2
    assert Office.objects.count() == 13
    assert Bank.objects.count() == 23
    assert ExemptionCategory.objects.count() == 9
    assert InsuranceYear.objects.count() == 2
    assert ChannelRule.objects.count() == 6
    assert Hotline.objects.count() == 8


def test_guangzhou_has_the_twelve_offices_of_annex_1_with_their_contacts(loaded):
    offices = Office.objects.filter(city__code="guangzhou")
    assert offices.count() == 12
    yuexiu = offices.get(code="gz-yuexiu")
    assert (yuexiu.name, yuexiu.district, yuexiu.liaison, yuexiu.phone) == ("越秀分局", "越秀区", "崔安琪", "87660419")
    assert yuexiu.address == "越秀区梅东路28号4-6楼"
    assert offices.get(name="从化区城乡居民医保中心").phone == "37932033"


def test_every_listed_bank_may_debit_in_guangzhou_and_suzhou_names_no_list(loaded):
    # GZ 1(4): the 23 banks; SZ 4(5): transfer or electronic debit, no bank named.
    assert City.objects.get(code="guangzhou").allowed_banks.count() == 23
    assert not City.objects.get(code="suzhou").allowed_banks.exists()
    assert not City.objects.get(code="suzhou").banks_restricted
    assert Bank.objects.exclude(file_format="default").get().code == "icbc"


def test_the_notice_years_carry_fee_window_and_route(loaded):
    gz = InsuranceYear.objects.get_by_natural_key("guangzhou", "2014")
    assert gz.fee_standard == Decimal("200.00") and gz.fee_provisional
    assert (gz.window_start.isoformat(), gz.window_end.isoformat()) == ("2014-09-01", "2014-12-31")
    assert gz.collection_route == "bank_debit"
    sz = InsuranceYear.objects.get_by_natural_key("suzhou", "2020")
    assert sz.fee_standard == Decimal("140.00") and not sz.fee_provisional
    assert sz.collection_route == "tax_declaration"
    assert list(sz.channel_rules.values_list("condition", "channel")) == [
        ("non_local_school", "community_office"), ("public_funded_care", "public_funded"),
    ]


def test_only_non_local_low_income_students_need_a_stamped_letter(loaded):
    letter = ExemptionCategory.objects.filter(requires_letter=True).get()
    assert letter.code == "non_local_low_income_student"
    assert not letter.local_hukou_only
    assert ExemptionCategory.objects.filter(local_hukou_only=True).count() == 8


def test_suzhou_hotlines_are_those_of_the_closing_block(loaded):
    phones = list(Hotline.objects.filter(city__code="suzhou").values_list("phone", flat=True))
    assert phones == ["12333，69820471", "12366", "12333，67575023", "12333，69820515", "962026"]
