"""Helpers for the graduates tests: feeds built in memory, students with next year's enrollment on a roster."""

import datetime
from decimal import Decimal

import pytest

from enrollment.models import Enrollment, InsuranceYear, Roster, RosterState
from graduates.models import GraduateFeed
from graduates.services import feed_receive
from tests.factories import StudentFactory

# Before the coverage of the year the world fixture opens (1 January next year), whatever today is.
GRADUATION = datetime.date(datetime.date.today().year, 6, 30)


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded feeds and the inbox go to a temporary folder, never into the work tree."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "private")}},
    }
    settings.GRADUATE_FEED_INBOX = tmp_path / "inbox"
    return tmp_path


def csv_bytes(rows, *, encoding="utf-8", header=("身份证号码", "姓名", "学校代码", "毕业日期", "班级")) -> bytes:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def record(student, *, name=None, school_code=None, graduation_date=GRADUATION, class_name="初三1班") -> dict:
    return {
        "identity_number": student.identity_number if hasattr(student, "identity_number") else student,
        "name": name if name is not None else student.name,
        "school_code": school_code or student.school.code,
        "graduation_date": graduation_date.isoformat(),
        "class_name": class_name,
    }


def receive(records, *, source="school_roll") -> GraduateFeed:
    return feed_receive(source=source, via=GraduateFeed.Via.API, records=records).feed


def enrolled_student(school, year: InsuranceYear, *, roster_state=RosterState.OPEN, fee=Decimal("200.00"), **student_kwargs):
    """A student of ``school`` on ``year``'s roster in the given state."""
    student = StudentFactory(school=school, **student_kwargs)
    roster, _created = Roster.objects.get_or_create(school=school, insurance_year=year, defaults={"state": roster_state})
    if roster.state != roster_state:
        Roster.objects.filter(pk=roster.pk).update(state=roster_state)
    enrollment = Enrollment.objects.create(student=student, insurance_year=year, school=school, fee_due=fee)
    return student, enrollment


@pytest.fixture
def next_year(world):
    """The world's year starts its coverage after the 2026 graduation date; its window is open today."""
    year = world.year
    assert year.coverage_start > GRADUATION
    return year
