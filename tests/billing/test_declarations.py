"""Tax declarations (Suzhou route): declare, record the payment, import e-receipts per student."""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook, load_workbook

from billing import services
from billing.models import Declaration
from billing.selectors import school_billing_status, school_receipts
from enrollment.models import Enrollment, PaymentStatus, Roster, RosterState
from enrollment.services.common import Actor
from tests.billing.conftest import make_account, make_bank

pytestmark = pytest.mark.django_db
ACTOR = Actor(user=None, source="admin", label="test")


def declare(world):
    services.declarations_generate(insurance_year=world.year, actor=ACTOR)
    return Declaration.objects.get(school=world.school)


def receipt_file(rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["证件号码", "电子票据号", "金额"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def paying(world):
    return list(Enrollment.objects.filter(school=world.school, exemption_category__isnull=True).select_related("student").order_by("pk"))


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_declaration_lists_paying_students_with_count_and_amount_and_bills_the_roster(tax_world):
    declaration = declare(tax_world)
    assert (declaration.head_count, declaration.amount) == (3, Decimal("420.00"))
    assert Roster.objects.get(school=tax_world.school).state == RosterState.BILLED
    with declaration.file.open("rb") as handle:
        sheet = load_workbook(handle, read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][5] == "证件号码" and len(rows) == 1 + 3 + 1
    numbers = {e.student.identity_number for e in paying(tax_world)}
    assert {r[5] for r in rows[1:4]} == numbers and all(isinstance(r[5], str) for r in rows[1:4])
    assert rows[1][2] == tax_world.school.name and rows[-1][-1] == 420
    assert services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR) == []


def test_bank_debit_year_gets_no_declaration(debit_world):
    assert services.declarations_generate(insurance_year=debit_world.year, actor=ACTOR) == []


def test_payment_by_transfer_is_recorded_once(tax_world):
    declaration = declare(tax_world)
    services.declaration_record_payment(declaration=declaration, method="transfer", actor=ACTOR)
    declaration.refresh_from_db()
    assert declaration.state == Declaration.State.PAID and declaration.paid_at
    with pytest.raises(ValidationError):
        services.declaration_record_payment(declaration=declaration, method="transfer", actor=ACTOR)


def test_electronic_debit_needs_a_debit_agreement(tax_world):
    declaration = declare(tax_world)
    with pytest.raises(ValidationError) as exc:
        services.declaration_record_payment(declaration=declaration, method="electronic_debit", actor=ACTOR)
    assert "未签订扣款协议" in str(exc.value)
    make_account(tax_world.school, make_bank(tax_world.city))
    services.declaration_record_payment(declaration=declaration, method="electronic_debit", actor=ACTOR)
    assert Declaration.objects.get(pk=declaration.pk).payment_method == "electronic_debit"


def test_receipts_settle_students_and_the_roster(tax_world):
    declaration = declare(tax_world)
    services.declaration_record_payment(declaration=declaration, method="transfer", actor=ACTOR)
    students = paying(tax_world)
    first = receipt_file([(students[0].student.identity_number, "PJ0001", "140.00")])
    services.receipts_import(insurance_year=tax_world.year, content=first, file_name="p1.xlsx", actor=ACTOR)
    students[0].refresh_from_db()
    assert (students[0].payment_status, students[0].receipt_number) == (PaymentStatus.PAID, "PJ0001")
    assert Roster.objects.get(school=tax_world.school).state == RosterState.BILLED
    rest = receipt_file([(e.student.identity_number, f"PJ000{i}", 140) for i, e in enumerate(students[1:], start=2)])
    services.receipts_import(insurance_year=tax_world.year, content=rest, file_name="p2.xlsx", actor=ACTOR)
    declaration.refresh_from_db()
    assert declaration.state == Declaration.State.RECEIPTED and declaration.receipted_count == 3
    assert Roster.objects.get(school=tax_world.school).state == RosterState.SETTLED
    rows = list(school_receipts(school=tax_world.school, insurance_year=tax_world.year))
    assert len(rows) == 3 and all("*" in r.masked_identity_number for r in rows)
    status = school_billing_status(school=tax_world.school, insurance_year=tax_world.year)
    assert status.declaration["state"] == Declaration.State.RECEIPTED


def test_receipt_file_with_a_bad_row_writes_nothing_and_says_where(tax_world):
    declaration = declare(tax_world)
    services.declaration_record_payment(declaration=declaration, method="transfer", actor=ACTOR)
    students = paying(tax_world)
    content = receipt_file([(students[0].student.identity_number, "PJ1", "140.00"), (students[1].student.identity_number, "PJ2", "100.00")])
    with pytest.raises(ValidationError) as exc:
        services.receipts_import(insurance_year=tax_world.year, content=content, file_name="bad.xlsx", actor=ACTOR)
    assert any("bad.xlsx第3行C列（金额）" in m for m in exc.value.messages)
    assert not Enrollment.objects.exclude(receipt_number="").exists()


def test_receipt_file_imported_twice_is_refused(tax_world):
    declaration = declare(tax_world)
    services.declaration_record_payment(declaration=declaration, method="transfer", actor=ACTOR)
    content = receipt_file([(paying(tax_world)[0].student.identity_number, "PJ1", "140.00")])
    services.receipts_import(insurance_year=tax_world.year, content=content, file_name="a.xlsx", actor=ACTOR)
    with pytest.raises(ValidationError) as exc:
        services.receipts_import(insurance_year=tax_world.year, content=content, file_name="a.xlsx", actor=ACTOR)
    assert "已导入过" in str(exc.value)


def test_receipts_before_payment_are_refused(tax_world):
    declare(tax_world)
    content = receipt_file([(paying(tax_world)[0].student.identity_number, "PJ1", "140.00")])
    with pytest.raises(ValidationError) as exc:
        services.receipts_import(insurance_year=tax_world.year, content=content, file_name="early.xlsx", actor=ACTOR)
    assert "不在已缴款的申报名单中" in str(exc.value)
