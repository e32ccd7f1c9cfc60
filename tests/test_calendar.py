from __future__ import annotations

import datetime as dt

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
