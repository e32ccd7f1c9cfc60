"""How amounts, dates and states read on screen."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from relance.kernel.money import desk_money, grouped_amount

# The desk's two ways of showing an amount, under the names its screens use.
amount = grouped_amount
money = desk_money


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
