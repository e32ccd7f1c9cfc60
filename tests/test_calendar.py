from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from relance.engine.calendar import add_business_days, business_days_between, is_business_day


def test_weekends_and_french_holidays_are_not_business_days() -> None:
    assert not is_business_day(dt.date(2026, 11, 22), "FR")  # a Sunday
    assert not is_business_day(dt.date(2026, 11, 11), "FR")  # Armistice, a Wednesday
    assert is_business_day(dt.date(2026, 11, 12), "FR")


def test_alsace_moselle_has_saint_stephen() -> None:
    boxing_day = dt.date(2026, 12, 26)  # a Saturday in 2026: look at 2025 instead
    assert not is_business_day(boxing_day, "FR")
    assert is_business_day(dt.date(2025, 12, 26), "FR")
    assert not is_business_day(dt.date(2025, 12, 26), "FR", "57")


def test_counting_business_days_skips_holidays() -> None:
    # Friday 2026-12-18 + 5 business days: 21, 22, 23, 24, (25 Christmas) 28.
    assert add_business_days(dt.date(2026, 12, 18), 5, "FR") == dt.date(2026, 12, 28)
    assert business_days_between(dt.date(2026, 12, 18), dt.date(2026, 12, 28), "FR") == 5
    assert business_days_between(dt.date(2026, 12, 28), dt.date(2026, 12, 18), "FR") == -5


def _walked(start: dt.date, end: dt.date, country: str, subdivision: str | None) -> int:
    """The definition, one day at a time."""
    if end < start:
        return -_walked(end, start, country, subdivision)
    days = (end - start).days
    return sum(1 for n in range(1, days + 1)
               if is_business_day(start + dt.timedelta(days=n), country, subdivision))


@settings(max_examples=300, deadline=None)
@given(start=st.dates(dt.date(2023, 1, 1), dt.date(2028, 12, 31)),
       span=st.integers(-800, 800),
       place=st.sampled_from([("FR", None), ("FR", "57"), ("BE", None), ("DE", None),
                              ("ZZ", None)]))
def test_counted_business_days_match_the_day_by_day_walk(
        start: dt.date, span: int, place: tuple[str, str | None]) -> None:
    # Spans cross weekends, holidays that fall on a weekend, year ends and leap days.
    end = start + dt.timedelta(days=span)
    country, subdivision = place
    assert business_days_between(start, end, country, subdivision) == _walked(
        start, end, country, subdivision)
