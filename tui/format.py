"""Cells of the desk's tables: a day or a dash, a cut name, a right-aligned figure.
Amounts and numbers come from the kernel's one formatter (`relance.kernel.display`)."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from relance.kernel.display import show_date


def day(value: dt.date | None) -> str:
    return show_date(value) if value else "—"


def short_day(value: dt.date | None) -> str:
    """A day with a two-digit year, for narrow columns (`06/12/26`)."""
    if not value:
        return "—"
    text = show_date(value)
    year = f"{value.year:04d}"
    return text.replace(year, year[2:], 1) if year in text else text


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
