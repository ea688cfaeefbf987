"""Shared set-up for the printed-documents tests: enrolled students, paid or not, and file storage in tmp."""

import datetime
import re
import tempfile

import pytest
from django.utils import timezone
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFontFile

from enrollment.models import Enrollment, Hotline, PaymentStatus
from enrollment.services.common import Actor
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import StudentFactory


@pytest.fixture
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return tmp_path


def enroll(world, *, school=None, paid=False, funded=False, **student_fields) -> Enrollment:
    school = school or world.school
    student = StudentFactory(school=school, **student_fields)
    enrollment = enrollment_refresh(actor=Actor.job("test"), student=student, insurance_year=world.year)
    if paid or funded:
        # Payment results come from billing; here only the outcome matters.
        Enrollment.objects.filter(pk=enrollment.pk).update(
            payment_status=PaymentStatus.FUNDED if funded else PaymentStatus.PAID,
            paid_at=timezone.make_aware(datetime.datetime(2026, 10, 8, 10, 0)),
            receipt_number="" if funded else f"R{enrollment.pk:08d}",
        )
        enrollment.refresh_from_db()
    return enrollment


def add_hotline(city):
    return Hotline.objects.get_or_create(city=city, topic="参保登记咨询", defaults={"phone": "12333", "order": 1})[0]


def pdf_pages(data: bytes) -> list[str]:
    import io

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def glyph_outline_size(data: bytes, char: str) -> tuple[str, int]:
    """(font name, bytes of outline) of the glyph the PDF draws for ``char``; 0 bytes means an empty box."""
    import io

    code = ord(char)
    target = (
        f"{code:04X}" if code < 0x10000
        else f"{0xD800 + ((code - 0x10000) >> 10):04X}{0xDC00 + ((code - 0x10000) & 0x3FF):04X}"
    )
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/ToUnicode" not in font:
                continue
            cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            found = re.search(rf"<([0-9A-F]{{2}})> <{target}>", cmap)
            if not found:
                continue
            embedded = font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
            with tempfile.NamedTemporaryFile(suffix=".ttf") as handle:
                handle.write(embedded)
                handle.flush()
                parsed = TTFontFile(handle.name, validate=0)
            glyph = parsed.charToGlyph.get(int(found.group(1), 16), 0)
            return str(font["/BaseFont"]), parsed.glyphPos[glyph + 1] - parsed.glyphPos[glyph] if glyph else 0
    return "", 0


def login(client, user):
    # The session is bound to the stored password hash, so log in the row as stored.
    user.refresh_from_db()
    client.force_login(user)
    return client
