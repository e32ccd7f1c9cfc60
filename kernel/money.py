"""Exact money: amounts are integers in the currency's minor unit, never floats.

A `Money` value always carries its currency; arithmetic across currencies is refused,
because relance never converts (a debtor owing EUR and CHF owes two totals).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from relance.kernel.i18n import _, ngettext

# ISO 4217 minor units that differ from the usual two decimals.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


class CurrencyMismatch(ValueError):
    """Raised when two amounts of different currencies meet in one operation."""


def minor_units(currency: str) -> int:
    """Number of decimals of a currency (2 for EUR, 0 for JPY, 3 for TND)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def normalise_currency(code: str) -> str:
    """Upper-case, three-letter ISO code; raises ValueError otherwise."""
    text = code.strip().upper()
    if len(text) != 3 or not text.isalpha() or not text.isascii():
        raise ValueError(_("{code!r} is not a three-letter currency code").format(code=code))
    return text


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert an exact decimal amount to integer minor units, refusing extra decimals."""
    exponent = minor_units(currency)
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        # The amount as the person wrote it (an import's cell, a typed figure).
        raise ValueError(ngettext("{amount} has more than {count} decimal for {currency}",
                                  "{amount} has more than {count} decimals for {currency}",
                                  exponent).format(amount=amount, count=exponent,
                                                   currency=currency))
    return int(scaled)


def round_to_minor(amount: Decimal, currency: str) -> int:
    """Round a computed amount (interest, say) half-up to the currency's minor unit."""
    exponent = minor_units(currency)
    return int(amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_decimal(minor: int, currency: str) -> Decimal:
    """Integer minor units back to an exact decimal with the currency's decimals."""
    exponent = minor_units(currency)
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


_EXPONENTS: dict[str, int] = {}


def _exponent(currency: str) -> int:
    exponent = _EXPONENTS.get(currency)
    if exponent is None:
        exponent = _EXPONENTS[currency] = minor_units(currency)
    return exponent

# The languages relance speaks, and the locale whose conventions each shows money in.
LOCALES: dict[str, str] = {"fr": "fr_FR", "en": "en_GB"}


def locale_for(language: str) -> str:
    """The Babel locale of a language code (`fr`, `en-GB`, `fr_FR`); French by default."""
    return LOCALES.get(language.lower()[:2], "fr_FR")


def money_text(minor: Any, currency: str) -> str:
    """`1250.00 EUR`: the plain, locale-free text of an amount, for events, error
    messages, JSON and files read by programs. Built without a Decimal because the run
    writes it for every fact it records; sums come back as Decimal from PostgreSQL,
    hence the `int`."""
    minor = int(minor)
    exponent = _exponent(currency)
    if exponent == 0:
        return f"{minor} {currency}"
    units, rest = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{units}.{rest:0{exponent}d} {currency}"


def decimal_text(minor: int, currency: str) -> str:
    """`1234.56`: the amount alone, exact, with the currency's decimals and no grouping;
    for JSON and machine-read files (people read `relance.kernel.display`)."""
    return str(to_decimal(minor, currency))


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount in one currency, held as integer minor units."""

    currency: str
    minor: int

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        code = normalise_currency(currency)
        return cls(code, to_minor(Decimal(amount), code))

    @property
    def amount(self) -> Decimal:
        return to_decimal(self.minor, self.currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(_("cannot combine {first} and {second}").format(
                first=self.currency, second=other.currency))

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.currency, self.minor - other.minor)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
