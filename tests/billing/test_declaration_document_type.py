"""The tax declaration and the exports name each student's identity document, not always 居民身份证."""

import io

import pytest
from python_calamine import CalamineWorkbook

from billing import services
from billing.models import Declaration
from enrollment import identity
from enrollment.models import Enrollment, Student
from enrollment.services.common import Actor

ACTOR = Actor(user=None, source="admin", label="test")


def _rows(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_the_declaration_carries_each_students_document_type(tax_world):
    paying = Enrollment.objects.filter(school=tax_world.school, exemption_category__isnull=True).select_related("student").first()
    permit = identity.generate(region="810000", birth=paying.student.birth_date, sequence=1)
    Student.objects.filter(pk=paying.student_id).update(identity_number=permit, document_type="hmt_residence_permit")
    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    declaration = Declaration.objects.get(school=tax_world.school)
    with declaration.file.open("rb") as handle:
        rows = _rows(handle.read())
    kinds = {row[5]: row[4] for row in rows[1:-1]}
    assert kinds[permit] == "港澳台居民居住证"
    assert set(kinds.values()) == {"港澳台居民居住证", "居民身份证"}
