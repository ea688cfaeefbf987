"""The home page's to-do list names every problem the school must act on, each with the page that fixes it."""

import datetime

import pytest
from django.urls import reverse

from billing.models import DebitInstruction
from billing.services import instructions_create
from enrollment.models import CollectionRoute, Enrollment
from graduates.services import deregistration_run
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import identity_number
from tests.graduates.conftest import receive

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def home(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    return lambda: client.get(reverse("portal:home")).content.decode()


def test_a_bank_debit_school_without_an_account_is_told_to_send_one(home, world):
    assert "学校尚无有效的扣费账户" in home()
    make_account(world.school, make_bank(world.city))
    assert "学校尚无有效的扣费账户" not in home()


def test_a_tax_declaration_school_needs_no_debit_account(home, world):
    world.year.collection_route = CollectionRoute.TAX_DECLARATION
    world.year.save()
    assert "扣费账户" not in home()


def test_a_failed_debit_is_a_todo_linking_to_the_payment_page(home, world):
    make_account(world.school, make_bank(world.city))
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    instructions_create(insurance_year=world.year)
    assert "扣款失败" not in home()

    DebitInstruction.objects.filter(school=world.school).update(tries=1, last_failure="余额不足")

    html = home()
    assert "1笔扣款失败" in html
    assert f'href="{reverse("billing:receipts")}"' in html.split("待办事项")[1]


def test_graduates_the_nightly_run_could_not_stop_are_a_todo(home, world):
    receive([{"identity_number": identity_number(birth=datetime.date(2010, 1, 1)), "name": "查无此人", "school_code": world.school.code,
              "graduation_date": datetime.date.today().isoformat(), "class_name": "初三1班"}])
    deregistration_run(triggered_by="test")

    html = home()
    assert "1名毕业生未能自动停保" in html
    assert f'href="{reverse("graduates:my-exceptions")}"' in html.split("待办事项")[1]


def test_the_coordinator_registration_deadline_is_shown_until_registered(home, world):
    world.year.coordinator_deadline = datetime.date(2027, 9, 30)
    world.year.save()
    assert "报送截止：2027-09-30" in home()


def test_money_on_the_home_page_has_thousands_separators(home, world):
    confirm_roster(world.school, world.year, world.coordinator, paying=6, fee=world.year.fee_standard)
    world.year.fee_standard = 250
    world.year.save()
    Enrollment.objects.filter(school=world.school).update(fee_due=250)
    assert "1,500.00" in home()


def test_a_listed_non_local_student_waits_for_a_stamped_letter_until_the_bureau_enters_it(home, world):
    from enrollment.models import Exemption, ExemptionCategory, ExemptionSource
    from tests.factories import StudentFactory

    low_income = ExemptionCategory.objects.create(city=world.city, code="minimum_living", name="低保人员")
    letter = ExemptionCategory.objects.create(city=world.city, code="non_local_low_income_student", name="非本市户籍低保大学生",
                                              local_hukou_only=False, requires_letter=True)
    local = StudentFactory(school=world.school, hukou_local=True)
    non_local = StudentFactory(school=world.school, hukou_local=False)
    for student in (local, non_local):
        Exemption.objects.create(identity_number=student.identity_number, category=low_income,
                                 source=ExemptionSource.CIVIL_AFFAIRS, valid_from=datetime.date(2020, 1, 1))

    html = home()
    assert "1名非本市户籍学生在低保等名单中，须由经办机构录入民政局盖章确认函" in html
    assert f'href="{reverse("portal:contacts")}"' in html.split("待办事项")[1]

    Exemption.objects.create(identity_number=non_local.identity_number, category=letter, evidence="exemption-letters/a.pdf",
                             source=ExemptionSource.CONFIRMATION_LETTER, valid_from=datetime.date(2020, 1, 1))
    assert "盖章确认函" not in home()
