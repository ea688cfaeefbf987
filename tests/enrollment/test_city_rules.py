"""Each city's notice rules as data: exemptions, lock after the window, banks, coverage and scope.

GZ = 穗人社函〔2014〕1366号 (Guangzhou 2014), SZ = 苏社基〔2019〕69号 (Suzhou 2020); each test names the paragraph.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from enrollment import routing
from enrollment.models import (
    Bank,
    ChannelRule,
    City,
    Enrollment,
    Exemption,
    ExemptionCategory,
    InsuranceYear,
    Office,
    PaymentStatus,
)
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from enrollment.services.students import school_year
from tests.factories import SchoolFactory, StudentFactory


@pytest.fixture
def reference(db):
    call_command("loaddata", "reference", verbosity=0)
    return {
        "gz": InsuranceYear.objects.get_by_natural_key("guangzhou", "2014"),
        "sz": InsuranceYear.objects.get_by_natural_key("suzhou", "2020"),
    }


def test_only_suzhous_notice_has_exemption_categories(reference):
    # SZ 3 (苏府规字〔2017〕6号) lists nine categories; GZ exempts no one at school (2(2): civil affairs instead).
    assert ExemptionCategory.objects.filter(city__code="suzhou").count() == 9
    assert not ExemptionCategory.objects.filter(city__code="guangzhou").exists()


def test_a_suzhou_register_row_applies_in_a_suzhou_year_and_not_in_a_guangzhou_year(reference):
    category = ExemptionCategory.objects.get(city__code="suzhou", code="minimum_living")
    number = "440104201003150011"
    Exemption.objects.create(identity_number=number, category=category, source="civil_affairs",
                             valid_from=datetime.date(2014, 1, 1))
    assert routing.exemptions_by_identity([number], insurance_year=reference["sz"], today=datetime.date(2019, 10, 1))
    assert routing.exemptions_by_identity([number], insurance_year=reference["gz"], today=datetime.date(2014, 10, 1)) == {}


def test_a_guangzhou_student_on_an_exemption_list_pays_the_standard(world):
    # GZ 2(2)/2(3): no exemption at school in Guangzhou; the student on a (Suzhou) list pays the standard.
    suzhou = City.objects.create(code="suzhou", name="苏州市")
    category = ExemptionCategory.objects.create(city=suzhou, code="minimum_living", name="低保人员")
    student = StudentFactory(school=world.school)
    Exemption.objects.create(identity_number=student.identity_number, category=category, source="civil_affairs",
                             valid_from=datetime.date(2000, 1, 1))
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert (enrollment.fee_due, enrollment.exemption_category_id) == (world.year.fee_standard, None)
    assert enrollment.payment_status == PaymentStatus.UNPAID


def test_a_guangzhou_student_in_medical_assistance_is_routed_to_civil_affairs(world):
    # GZ 2(2): students in the medical-assistance scheme register through civil affairs, not at school.
    ChannelRule.objects.create(insurance_year=world.year, order=1, condition="medical_assistance_civil",
                               channel="civil_affairs")
    student = StudentFactory(school=world.school, medical_assistance="civil_affairs")
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert (enrollment.channel, enrollment.fee_due) == ("civil_affairs", Decimal("0.00"))


def test_suzhou_locks_after_the_window_and_guangzhou_does_not(reference):
    gz, sz = reference["gz"], reference["sz"]
    # SZ 5(1): no adjustment or back-payment after the declaration window.
    assert sz.locked_after_window and not sz.accepts_changes(sz.window_end + datetime.timedelta(days=1))
    # GZ: no lock in the notice; the real standard is paid once published (2(3)).
    assert not gz.locked_after_window and gz.accepts_changes(gz.window_end + datetime.timedelta(days=1))
    assert not gz.accepts_changes(gz.window_start - datetime.timedelta(days=1))


def test_an_unlocked_year_still_takes_roster_changes_after_its_window(world):
    past = datetime.date.today() - datetime.timedelta(days=1)
    InsuranceYear.objects.filter(pk=world.year.pk).update(
        window_start=past - datetime.timedelta(days=60), window_end=past, locked_after_window=False,
    )
    world.year.refresh_from_db()
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school),
                                    insurance_year=world.year)
    assert Enrollment.objects.filter(pk=enrollment.pk).exists()


def test_guangzhou_debits_only_from_its_23_banks_and_suzhou_schools_use_any_bank(reference):
    from enrollment.admin.reference import SchoolAccountForm

    # GZ 1(4): 23 banks, "非上述名单内的银行请不要登记"; SZ 4(5): transfer or e-debit, no bank named.
    assert City.objects.get(code="guangzhou").allowed_banks.count() == 23
    assert City.objects.get(code="guangzhou").banks_restricted
    assert not City.objects.get(code="suzhou").banks_restricted
    unlisted = Bank.objects.create(code="other", name="苏州银行")
    data = {"bank": unlisted.pk, "account_number": "6222000000001", "holder_name": "学校", "active": True}
    gz_school = SchoolFactory(office=Office.objects.get(code="gz-yuexiu"))
    sz_school = SchoolFactory(office=Office.objects.get(city__code="suzhou"), kind="university")
    assert "bank" in SchoolAccountForm(data={**data, "school": gz_school.pk}).errors
    assert SchoolAccountForm(data={**data, "school": sz_school.pk}).is_valid()


def test_each_years_coverage_period_is_its_notices(reference):
    gz, sz = reference["gz"], reference["sz"]
    # GZ 2(3): the 200 yuan covers the 2014 urban residents' year and the 2015 calendar year.
    assert (gz.coverage_start, gz.coverage_end) == (datetime.date(2014, 9, 1), datetime.date(2015, 12, 31))
    # SZ 5(2): covered January to December 2020.
    assert (sz.coverage_start, sz.coverage_end) == (datetime.date(2020, 1, 1), datetime.date(2020, 12, 31))
    # Each notice's own words for the period, printed after the dates on the record and the voucher.
    assert gz.coverage_description == "2014年城镇居民医保年度及2015年城乡居民医保年度"
    assert sz.coverage_description == "2020年度（2020年1月至12月）"


def test_suzhous_year_covers_schools_of_its_urban_districts_only(reference):
    # SZ heading: 苏州市区 universities; county-level cities are outside the scheme.
    assert reference["sz"].urban_districts_only and not reference["gz"].urban_districts_only
    suzhou = City.objects.get(code="suzhou")
    county = Office.objects.create(code="sz-changshu", city=suzhou, name="常熟市社保中心", district="常熟市",
                                   address="常熟", urban_district=False)
    urban = SchoolFactory(office=Office.objects.get(code__startswith="sz", urban_district=True), kind="university")
    outside = SchoolFactory(office=county, kind="university")
    assert school_year(urban) == reference["sz"]
    with pytest.raises(ValidationError) as caught:
        school_year(outside)
    assert caught.value.code == "school_out_of_scope"
