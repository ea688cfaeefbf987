"""Which insurance year the portal, imports and jobs work on when none is named."""

import datetime

from coordinators.selectors import roster_page_scope
from enrollment.models import InsuranceYear, Roster
from enrollment.selectors import school_data_stamp
from enrollment.services.common import current_insurance_year, roster_get_or_create
from tests.factories import CityFactory, InsuranceYearFactory, OfficeFactory, SchoolFactory, StudentFactory

TODAY = datetime.date(2026, 10, 1)


def _current(city):
    """The rule, checked against the roster page's one-statement reading of it: the two must agree."""
    year = current_insurance_year(city_id=city.pk, today=TODAY)
    school = SchoolFactory(office=OfficeFactory(city=city))
    assert roster_page_scope(school=school, today=TODAY)[0] == year
    return year


def _year(city, label, start, end):
    return InsuranceYearFactory(city=city, label=label, window_start=datetime.date(*start), window_end=datetime.date(*end))


def test_the_year_whose_window_is_open_wins_over_past_and_coming_ones(db):
    city = CityFactory()
    _year(city, "past", (2025, 9, 1), (2025, 12, 31))
    open_year = _year(city, "open", (2026, 9, 1), (2026, 12, 31))
    _year(city, "coming", (2026, 10, 15), (2027, 1, 31))
    assert _current(city) == open_year


def test_of_two_open_windows_the_one_opened_last_wins(db):
    city = CityFactory()
    _year(city, "long", (2026, 1, 1), (2026, 12, 31))
    later = _year(city, "later", (2026, 9, 1), (2026, 11, 30))
    assert _current(city) == later


def test_between_windows_the_next_to_open_wins_over_the_last_closed(db):
    city = CityFactory()
    _year(city, "closed", (2026, 1, 1), (2026, 6, 30))
    _year(city, "far", (2027, 9, 1), (2027, 12, 31))
    near = _year(city, "near", (2026, 11, 1), (2026, 12, 31))
    assert _current(city) == near


def test_with_nothing_open_or_coming_the_latest_closed_year_is_shown(db):
    city = CityFactory()
    _year(city, "older", (2024, 9, 1), (2024, 12, 31))
    latest = _year(city, "latest", (2025, 9, 1), (2025, 12, 31))
    assert _current(city) == latest


def test_another_citys_years_are_never_taken(db):
    city, other = CityFactory(), CityFactory(code="suzhou", name="苏州市")
    _year(other, "theirs", (2026, 9, 1), (2026, 12, 31))
    assert _current(city) is None


def test_the_roster_page_reads_the_year_its_roster_and_the_data_stamp_as_the_orm_would(db):
    city = CityFactory()
    year = _year(city, "open", (2026, 9, 1), (2026, 12, 31))
    school = SchoolFactory(office=OfficeFactory(city=city))
    assert roster_page_scope(school=school, today=TODAY) == (year, None, "0")  # no roster, no write yet
    StudentFactory(school=school)
    roster = roster_get_or_create(school=school, insurance_year=year)
    got_year, got_roster, stamp = roster_page_scope(school=school, today=TODAY)
    fields = [f.attname for f in InsuranceYear._meta.concrete_fields]
    assert [getattr(got_year, f) for f in fields] == [getattr(InsuranceYear.objects.get(pk=year.pk), f) for f in fields]
    fields = [f.attname for f in Roster._meta.concrete_fields]
    assert [getattr(got_roster, f) for f in fields] == [getattr(Roster.objects.get(pk=roster.pk), f) for f in fields]
    assert stamp == school_data_stamp(school_id=school.pk) != "0"
