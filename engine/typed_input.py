"""Amounts typed by a person (`relance pay`, the TUI's forms), read exactly or refused
with a sentence naming the field. Typed days are `relance.kernel.dates.parse_day`."""

from __future__ import annotations

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money, normalise_currency, to_minor
from relance.store.importing.numbers import AmountError, parse_amount


def parse_money(text: str, currency: str, *, what: str | None = None) -> Money:
    """An amount typed by a person (`1234.56`, `1234,56`, `1 234,56`, optionally followed
    by the currency code, which must then be `currency`); `what` names the field in a
    refusal (default: amount)."""
    what = what or _("amount")
    raw = text.strip()
    parts = raw.rsplit(None, 1)
    if len(parts) == 2 and parts[1].isalpha() and len(parts[1]) == 3:
        raw = parts[0]
        if normalise_currency(parts[1]) != currency:
            raise UsageError(_("{what} {text!r} is in {found}, expected {currency}").format(
                what=what, text=text, found=parts[1].upper(), currency=currency))
    try:
        value = parse_amount(raw)
        return Money(currency, to_minor(value, currency))
    except AmountError as exc:
        raise UsageError(f"{what} {text!r} {exc}") from None
    except ValueError as exc:
        raise UsageError(f"{what} {text!r}: {exc}") from None
