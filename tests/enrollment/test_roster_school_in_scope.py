"""A year that covers urban districts only puts no student of a county-level school on a roster, by any path.

Suzhou's notice covers 市区: the check ran on student add, edit and import only. Restoring a removed student,
refreshing an enrollment (rerouting, the register), the bulk refresh and confirming the roster go through the
roster lock, which now refuses a school the year does not apply to; taking a student off the roster still works.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import Enrollment, EnrollmentStatus, Roster
from enrollment.services.common import Actor
from enrollment.services.enrollments import (
    enrollment_refresh,
    enrollment_remove,
    enrollment_restore,
    enrollments_refresh_bulk,
)
from enrollment.services.rosters import roster_confirm
from tests.factories import StudentFactory


@pytest.fixture
def county_school(world):
    """The world's year now covers urban districts only, and Yuexiu's office is a county-level city's."""
    world.year.urban_districts_only = True
    world.year.save()
    world.office.urban_district = False
    world.office.save()
    world.school.refresh_from_db()
    return world.school


def on_roster(school, year, *, status=EnrollmentStatus.REGISTERED, reason=""):
    """A student already on the roster, as left from before the rule (written directly)."""
    student = StudentFactory(school=school)
    roster, _ = Roster.objects.get_or_create(school=school, insurance_year=year)
    enrollment = Enrollment.objects.create(
        student=student, insurance_year=year, school=school, fee_due=Decimal("200.00"), status=status, status_reason=reason,
    )
    return student, roster, enrollment


def test_restoring_a_removed_student_of_a_county_level_school_is_refused(world, county_school):
    _student, _roster, enrollment = on_roster(county_school, world.year, status=EnrollmentStatus.REMOVED, reason="手工剔除")
    with pytest.raises(ValidationError) as caught:
        enrollment_restore(actor=Actor(world.coordinator, "portal"), enrollment=enrollment)
    assert caught.value.code == "school_out_of_scope"
    assert "仅适用于市区学校" in caught.value.messages[0]
    assert Enrollment.objects.get(pk=enrollment.pk).status == EnrollmentStatus.REMOVED


def test_refreshing_an_enrollment_of_a_county_level_school_puts_nobody_on_the_roster(world, county_school):
    student = StudentFactory(school=county_school)
    with pytest.raises(ValidationError) as caught:
        enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert caught.value.code == "school_out_of_scope"
    assert not Enrollment.objects.filter(student=student).exists()


def test_the_bulk_refresh_of_a_county_level_schools_roster_is_refused(world, county_school):
    StudentFactory(school=county_school)
    roster, _ = Roster.objects.get_or_create(school=county_school, insurance_year=world.year)
    with pytest.raises(ValidationError) as caught:
        enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    assert caught.value.code == "school_out_of_scope"
    assert not Enrollment.objects.exists()


def test_a_county_level_schools_roster_cannot_be_confirmed(world, county_school):
    _student, roster, _enrollment = on_roster(county_school, world.year)
    with pytest.raises(ValidationError) as caught:
        roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
    assert caught.value.code == "school_out_of_scope"


def test_a_student_can_still_be_taken_off_a_county_level_schools_roster(world, county_school):
    _student, _roster, enrollment = on_roster(county_school, world.year)
    removed = enrollment_remove(actor=Actor(world.coordinator, "portal"), enrollment=enrollment, reason="不在市区范围")
    assert removed.status == EnrollmentStatus.REMOVED


def test_urban_schools_of_the_same_year_enroll_as_before(world, county_school):
    student = StudentFactory(school=world.other_school)
    enrollment = enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    assert enrollment.status == EnrollmentStatus.REGISTERED


def test_a_register_import_leaves_a_county_level_schools_roster_alone_and_imports_the_rest(world, county_school):
    from enrollment.models import ExemptionCategory
    from enrollment.services.exemptions import exemptions_import

    ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})
    student, _roster, enrollment = on_roster(county_school, world.year)
    urban = StudentFactory(school=world.other_school)
    enrollment_refresh(actor=Actor.job("t"), student=urban, insurance_year=world.year)
    rows = [{"identity_number": s.identity_number, "name": "", "category": "低保人员", "valid_from": "2019-01-01"}
            for s in (student, urban)]
    result = exemptions_import(actor=Actor(world.city_staff, "admin"), source="civil_affairs", rows=rows, file_name="a.csv")
    assert result.ok and result.created == 2
    assert Enrollment.objects.get(pk=enrollment.pk).fee_due == Decimal("200.00")
    assert Enrollment.objects.get(student=urban).fee_due == 0


def test_a_late_registration_on_a_county_level_schools_roster_is_refused(world, county_school):
    from django.db import transaction

    from enrollment.services.enrollments import roster_lock_for_late

    with pytest.raises(ValidationError) as caught, transaction.atomic():
        roster_lock_for_late(school=county_school, insurance_year=world.year)
    assert caught.value.code == "school_out_of_scope"
