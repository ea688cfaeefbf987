"""E-receipt lists and bank result files come in through the one intake."""

import pytest
from django.core.exceptions import ValidationError

from billing import services
from enrollment.models import Enrollment
from enrollment.services.common import Actor
from tests import files
from tests.billing.test_results import generate, import_

ACTOR = Actor(user=None, source="admin", label="test")


def test_an_e_receipt_list_in_gbk_csv_is_read_and_a_bad_row_named_by_row_and_column(tax_world):
    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    student = Enrollment.objects.filter(school=tax_world.school, exemption_category__isnull=True).first().student
    content = files.csv_bytes([[student.identity_number, "PJ1", "140"], ["449999201204011234", "PJ2", "140"]],
                              header=["证件号码", "电子票据号", "金额"], encoding="gbk")
    with pytest.raises(ValidationError) as exc:
        services.receipts_import(insurance_year=tax_world.year, content=content, file_name="票据.csv", actor=ACTOR)
    assert len(exc.value.messages) == 1
    assert "第3行A列（证件号码）" in exc.value.messages[0]


def test_an_e_receipt_list_that_is_a_zip_bomb_is_refused(tax_world):
    with pytest.raises(ValidationError) as exc:
        services.receipts_import(insurance_year=tax_world.year, content=files.zip_bomb(), file_name="票据.xlsx", actor=ACTOR)
    assert "恶意压缩文件" in exc.value.messages[0]


def test_a_binary_bank_result_file_is_refused_by_the_intake(debit_world):
    batch = generate(debit_world.year)
    with pytest.raises(ValidationError) as exc:
        import_(batch, b"PK\x03\x04\x00\x00binary", name="result.txt")
    assert "二进制" in exc.value.messages[0]

