"""How amounts, dates and states read on screen: the kernel's one formatter
(`relance.kernel.display`), in the desk's language, under the names the screens use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rich.text import Text

from relance.kernel.display import locale_for, show_amount, show_date, show_money
from relance.kernel.i18n import current_language

# `amount` is the figure alone, for a column whose heading or row names the currency;
# everywhere else an amount is `money`, with its currency.
amount = show_amount
money = show_money


def day(value: dt.date | None) -> str:
    return show_date(value) if value else "—"


def short_day(value: dt.date | None) -> str:
    """A day with a two-digit year, for narrow columns (`06/12/26`)."""
    if not value:
        return "—"
    text = show_date(value)
    year = f"{value.year:04d}"
    return text.replace(year, year[2:], 1) if year in text else text


def decimal(value: Decimal, places: int = 1) -> str:
    """`63,5` (fr) / `63.5` (en): a measure that is not money, such as days of DSO."""
    from babel.numbers import format_decimal

    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=locale_for(current_language()))


def clip(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis, padded to exactly `width`."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…"
    return text.ljust(width)


def right(text: str) -> Text:
    """A right-aligned cell (amounts line up on the decimal point)."""
    return Text(text, justify="right")
