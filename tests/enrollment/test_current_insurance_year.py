"""Which insurance year the portal, imports and jobs work on when none is named."""

import datetime

from enrollment.services.common import current_insurance_year
from tests.factories import CityFactory, InsuranceYearFactory

TODAY = datetime.date(2026, 10, 1)


def _year(city, label, start, end):
    return InsuranceYearFactory(city=city, label=label, window_start=datetime.date(*start), window_end=datetime.date(*end))


def test_the_year_whose_window_is_open_wins_over_past_and_coming_ones(db):
    city = CityFactory()
    _year(city, "past", (2025, 9, 1), (2025, 12, 31))
    open_year = _year(city, "open", (2026, 9, 1), (2026, 12, 31))
    _year(city, "coming", (2026, 10, 15), (2027, 1, 31))
    assert current_insurance_year(city_id=city.pk, today=TODAY) == open_year


def test_of_two_open_windows_the_one_opened_last_wins(db):
    city = CityFactory()
    _year(city, "long", (2026, 1, 1), (2026, 12, 31))
    later = _year(city, "later", (2026, 9, 1), (2026, 11, 30))
    assert current_insurance_year(city_id=city.pk, today=TODAY) == later


def test_between_windows_the_next_to_open_wins_over_the_last_closed(db):
    city = CityFactory()
    _year(city, "closed", (2026, 1, 1), (2026, 6, 30))
    _year(city, "far", (2027, 9, 1), (2027, 12, 31))
    near = _year(city, "near", (2026, 11, 1), (2026, 12, 31))
    assert current_insurance_year(city_id=city.pk, today=TODAY) == near


def test_with_nothing_open_or_coming_the_latest_closed_year_is_shown(db):
    city = CityFactory()
    _year(city, "older", (2024, 9, 1), (2024, 12, 31))
    latest = _year(city, "latest", (2025, 9, 1), (2025, 12, 31))
    assert current_insurance_year(city_id=city.pk, today=TODAY) == latest


def test_another_citys_years_are_never_taken(db):
    city, other = CityFactory(), CityFactory(code="suzhou", name="苏州市")
    _year(other, "theirs", (2026, 9, 1), (2026, 12, 31))
    assert current_insurance_year(city_id=city.pk, today=TODAY) is None
