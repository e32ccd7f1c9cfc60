"""Money, numbers and dates as a person reads them: the one formatter.

Everything shown to a person (the terminal UI, the command line's tables and
sentences, letters, e-mails, reports) goes through these functions, in the language
being spoken (`relance.kernel.i18n`) or the one a letter is written in:

    show_money(4505521, "EUR")  ->  45 055,21 €      (fr)      €45,055.21   (en)
    show_money(100000, "CHF")   ->  1 000,00 CHF     (fr)      CHF 1,000.00 (en)
    show_date(date(2026, 12, 6)) -> 06/12/2026

The currency is always shown with an amount: a book can mix EUR and CHF, and a figure
without its currency would be read in the wrong one. What programs read (JSON, events,
machine files) takes `money_text`/`decimal_text` of `relance.kernel.money` instead.

The conventions (symbols, grouping, where the currency goes) are Babel's (CLDR); they
are read once per language and currency, then applied with integer arithmetic, because
a screen of thousands of rows formats thousands of amounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from relance.kernel.i18n import current_language
from relance.kernel.money import LOCALES, locale_for, minor_units, to_decimal

__all__ = ["LOCALES", "locale_for", "show_amount", "show_count", "show_date",
           "show_datetime", "show_decimal", "show_money", "show_percent"]


@dataclass(frozen=True)
class _MoneyStyle:
    decimals: int
    decimal_symbol: str
    group_symbol: str
    positive: tuple[str, str]  # what comes before and after the figure
    negative: tuple[str, str]


@cache
def _style(currency: str, locale: str) -> _MoneyStyle:
    from babel.numbers import format_currency, get_decimal_symbol

    decimals = minor_units(currency)
    decimal_symbol = get_decimal_symbol(locale)
    # A figure Babel cannot group nor confuse with its surroundings: 7, then decimals.
    figure = "7" + (decimal_symbol + "0" * decimals if decimals else "")
    one = Decimal(7)

    def around(amount: Decimal) -> tuple[str, str]:
        text = format_currency(amount, currency, locale=locale)
        before, found, after = text.partition(figure)
        if not found:
            raise ValueError(f"cannot read Babel's pattern for {currency} in {locale}: {text}")
        return before, after

    return _MoneyStyle(decimals, decimal_symbol, _group_symbol(locale),
                       around(one), around(-one))


def _grouped(units: int, group_symbol: str) -> str:
    return f"{units:,}".replace(",", group_symbol)


def _figure(minor: int, style: _MoneyStyle) -> str:
    if style.decimals == 0:
        return _grouped(abs(minor), style.group_symbol)
    units, rest = divmod(abs(minor), 10**style.decimals)
    return (f"{_grouped(units, style.group_symbol)}{style.decimal_symbol}"
            f"{rest:0{style.decimals}d}")


def _language(language: str | None) -> str:
    return locale_for(language or current_language())


def show_money(minor: int, currency: str, language: str | None = None) -> str:
    """`45 055,21 €`: an amount with its currency, in `language` (default: the one being
    spoken). Exact: from integer minor units (a Decimal total from SQL is accepted)."""
    minor = int(minor)
    style = _style(currency, _language(language))
    before, after = style.negative if minor < 0 else style.positive
    return f"{before}{_figure(minor, style)}{after}"


def show_amount(minor: int, currency: str, language: str | None = None) -> str:
    """`45 055,21`: the figure alone, for a column whose heading or row names the
    currency (and only there: see the module's docstring)."""
    minor = int(minor)
    style = _style(currency, _language(language))
    return f"{'-' if minor < 0 else ''}{_figure(minor, style)}"


@cache
def _group_symbol(locale: str) -> str:
    from babel.numbers import get_group_symbol

    return get_group_symbol(locale)


def show_count(count: int, language: str | None = None) -> str:
    """`12 345`: a whole number, grouped as the language groups."""
    grouped = _grouped(abs(count), _group_symbol(_language(language)))
    return grouped if count >= 0 else "-" + grouped


def show_decimal(value: Decimal, places: int = 1, language: str | None = None) -> str:
    """`63,5` (fr) / `63.5` (en): a measure that is not money (days of DSO, an axis's
    tick), grouped, to `places` decimals."""
    from babel.numbers import format_decimal

    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=_language(language))


def show_percent(rate: Decimal, language: str | None = None) -> str:
    """`12,15 %` for Decimal("12.15") (a rate already in percent, two decimals), as the
    letters print the legal rates."""
    return f"{show_decimal(rate, 2, language)} %"


@cache
def _date_pattern(locale: str, width: Literal["full", "long", "medium", "short"]) -> str:
    """Babel's short date pattern as a `strftime` one (`dd/MM/y` -> `%d/%m/%Y`)."""
    from babel.dates import get_date_format

    pattern = get_date_format(width, locale=locale).pattern
    for cldr, posix in (("dd", "%d"), ("MM", "%m"), ("yyyy", "%Y"), ("y", "%Y")):
        pattern = pattern.replace(cldr, posix)
    return pattern


def show_date(day: dt.date | None, language: str | None = None) -> str:
    """`06/12/2026`: a day in the language's short form ('' for none)."""
    if day is None:
        return ""
    return day.strftime(_date_pattern(_language(language), "short"))


def show_datetime(moment: dt.datetime | None, language: str | None = None) -> str:
    """`06/12/2026 14:05`: a moment to the minute, in its own time zone."""
    if moment is None:
        return ""
    return f"{show_date(moment.date(), language)} {moment:%H:%M}"


def amount_of(minor: int, currency: str) -> Decimal:
    """The exact Decimal of an amount, for a spreadsheet cell typed as a number."""
    return to_decimal(minor, currency)
