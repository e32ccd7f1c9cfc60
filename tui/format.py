"""How amounts, dates and states read on screen."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from relance.store.money import to_decimal


def amount(minor: int, currency: str = "EUR") -> str:
    """`1 250.00`: exact, thousands grouped by a space, no currency symbol."""
    value = to_decimal(minor, currency or "EUR")
    return f"{value:,}".replace(",", " ")


def money(minor: int, currency: str) -> str:
    return f"{amount(minor, currency)} {currency}"


def day(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def short_day(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%y") if value else "—"


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
