"""Reading what operators type in the forms: lists of invoices (each with an optional
amount) and schedules of instalments. Only the reading: what a payment or a plan then
does with them is the core's (`relance.engine.casework`, `relance.engine.plans`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from relance.engine import casework, plans
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.models import Invoice

# Items are separated by `;`, or by a comma followed by a space or a non-digit: a comma
# between digits is a decimal comma (`FA-1:500,50, FA-2`).
_SEPARATOR = re.compile(r";|,\s+|,(?=\D)")


def items(text: str) -> list[str]:
    """`FA-1:500, FA-2` → `["FA-1:500", "FA-2"]`."""
    return [part.strip() for part in _SEPARATOR.split(text) if part.strip()]


def named_invoices(text: str, invoices: Sequence[Invoice]) -> list[tuple[Invoice, str]]:
    """`FA-1:500, FA-2` → the invoices named, in the order given, each with the amount
    typed after it ("" when none). A number not among `invoices` is refused."""
    by_number = {invoice.number: invoice for invoice in invoices}
    named: list[tuple[Invoice, str]] = []
    for item in items(text):
        number, _colon, amount = item.partition(":")
        invoice = by_number.get(number.strip())
        if invoice is None:
            raise UsageError(_("No invoice {number} among this debtor's invoices.").format(
                number=number.strip()))
        if any(invoice is seen for seen, _amount in named):
            raise UsageError(_("{number} is named twice.").format(number=invoice.number))
        named.append((invoice, amount.strip()))
    return named


def amounts(named: list[tuple[Invoice, str]], currency: str) -> list[tuple[int, int]] | None:
    """(invoice id, minor units) for invoices named with amounts; None when none has
    one. Amounts for some invoices only are refused: which way to share is unclear."""
    given = [amount for _invoice, amount in named if amount]
    if not given:
        return None
    if len(given) != len(named):
        raise UsageError(_("Give an amount for every invoice, or for none (each is then "
                           "paid up to its balance, in the order given)."))
    return [(invoice.id, casework.parse_money(amount, currency,
                                              what=_("amount for {number}").format(
                                                  number=invoice.number)).minor)
            for invoice, amount in named]


def schedule(text: str, currency: str) -> list[tuple[dt.date, int]]:
    """`30/11/2026:500, 31/12/2026:750,50` → instalments (date, minor units)."""
    result = []
    for item in items(text):
        day, colon, amount = item.partition(":")
        if not colon or not amount.strip():
            raise UsageError(_("Instalment {item!r}: write date:amount, e.g. 30/11/2026:500.")
                             .format(item=item))
        result.append((casework.parse_day(day.strip(), what=_("instalment date")),
                       casework.parse_money(amount, currency, what=_("instalment")).minor))
    return result


def count(text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise UsageError(_("{what}: a whole number, e.g. 3.").format(what=what))
    return int(text)


def every(text: str) -> plans.Every:
    """The time between instalments (`1m` when left empty)."""
    return plans.Every.parse(text or "1m")
