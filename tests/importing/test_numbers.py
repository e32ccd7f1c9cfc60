"""Amounts and dates as users type them: every supported notation reads back exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.kernel.dates import DateError, parse_date
from relance.store.importing.numbers import AmountError, parse_amount


@pytest.mark.parametrize(("text", "expected"), [
    ("1234.56", "1234.56"),
    ("1234,56", "1234.56"),
    ("1 234,56", "1234.56"),
    ("18 900.00", "18900.00"),
    ("3 400,50", "3400.50"),
    ("1\u00a0234,56", "1234.56"),
    ("1\u202f234\u202f567,89", "1234567.89"),
    ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"),
    ("1,234,567", "1234567"),
    ("1.234.567", "1234567"),
    ("1,234,567.5", "1234567.5"),
    ("0,500", "0.500"),
    ("0.125", "0.125"),
    ("12,5", "12.5"),
    ("1234,567", "1234.567"),
    ("-120,00", "-120.00"),
    ("120,00-", "-120.00"),
    ("  42 ", "42"),
])
def test_accepted_notations(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["1,250", "12.500", "999.999", "-1,250"])
def test_a_single_mark_before_three_digits_is_ambiguous(text: str) -> None:
    with pytest.raises(AmountError, match="ambiguous"):
        parse_amount(text)


def test_the_declared_decimal_mark_settles_the_ambiguous_case_only() -> None:
    assert parse_amount("1,250", decimal_mark=",") == Decimal("1.250")
    assert parse_amount("1,250", decimal_mark=".") == Decimal("1250")
    assert parse_amount("12.500", decimal_mark=",") == Decimal("12500")
    # Unambiguous notations read the same whatever the declaration says.
    assert parse_amount("1.234,56", decimal_mark=".") == Decimal("1234.56")
    assert parse_amount("12,50", decimal_mark=".") == Decimal("12.50")


@pytest.mark.parametrize("text", ["", "-", "abc", "12a", "1 23,4", "1.2.3", "1,234.5,6",
                                  "12 345 6", "1,2,3", "1.234.56,7,8", "1,23.45", "5.", "€12"])
def test_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)


def _group(digits: str, mark: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return mark.join(parts)


STYLES = [
    # (thousands mark or None, decimal mark)
    (None, "."), (None, ","), (" ", ","), (" ", "."), ("\u00a0", ","), ("\u202f", ","),
    (".", ","), (",", "."),
]


@given(
    units=st.integers(min_value=0, max_value=10**12),
    cents=st.integers(min_value=0, max_value=99),
    negative=st.booleans(),
    style=st.sampled_from(STYLES),
)
def test_formatting_an_exact_amount_in_any_style_reads_it_back(
        units: int, cents: int, negative: bool, style: tuple[str | None, str]) -> None:
    thousands, decimal = style
    value = Decimal(units) + Decimal(cents) / 100
    integer = _group(str(units), thousands) if thousands else str(units)
    text = f"{'-' if negative else ''}{integer}{decimal}{cents:02d}"
    assert parse_amount(text) == (-value if negative else value)


@given(units=st.integers(min_value=1000, max_value=10**15), mark=st.sampled_from([",", "."]))
def test_whole_amounts_grouped_by_a_repeated_or_unambiguous_mark(units: int, mark: str) -> None:
    text = _group(str(units), mark)
    if text.count(mark) == 1:  # `1,250`: ambiguous unless declared
        assert parse_amount(text, decimal_mark="." if mark == "," else ",") == units
    else:
        assert parse_amount(text) == units


def test_dates_iso_and_day_first() -> None:
    assert parse_date("2026-08-31") == dt.date(2026, 8, 31)
    assert parse_date("15/08/2026") == dt.date(2026, 8, 15)
    assert parse_date("3/4/2026") == dt.date(2026, 4, 3)
    assert parse_date("2026-08-31 00:00:00") == dt.date(2026, 8, 31)
    assert parse_date("31.08.2026", date_format="%d.%m.%Y") == dt.date(2026, 8, 31)
    for bad in ("2026-02-30", "31/02/2026", "08/31/2026", "yesterday", "2026/08/31"):
        with pytest.raises(DateError):
            parse_date(bad)
