"""A debtor's account statement (relevé de compte): what it owes, and how it came to.

Per currency: every item still open whatever its age, every item issued or settled in
the recent days asked for (90 by default), the payments and credit notes received in
those days or that went to an item shown; each line with the balance after it. What
came before and is not shown is brought forward in one figure, so that the last
balance is what the debtor owes now (the book's movements, `engine.subledger`).

Data only: the PDF and the spreadsheets are made in `relance.channels.reports`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from relance.engine.subledger import (
    LedgerLine,
    Movement,
    MovementKind,
    Party,
    load_movements,
    with_balances,
)

DEFAULT_DAYS = 90
_SETTLING = (MovementKind.ALLOCATION, MovementKind.SETTLEMENT, MovementKind.WRITE_OFF)


@dataclass(frozen=True)
class StatementSection:
    """The statement in one currency."""

    currency: str
    brought_forward: int
    lines: tuple[LedgerLine, ...]
    overdue: int  # open invoices past their due date
    not_due: int  # open invoices not yet due

    @property
    def debit(self) -> int:
        return sum(line.movement.debit for line in self.lines)

    @property
    def credit(self) -> int:
        return sum(line.movement.credit for line in self.lines)

    @property
    def balance(self) -> int:
        """What the debtor owes in this currency (negative: what it is owed)."""
        return self.brought_forward + self.debit - self.credit

    @property
    def on_account(self) -> int:
        """What it owes besides its open invoices: a credit not yet used (negative)."""
        return self.balance - self.overdue - self.not_due


@dataclass(frozen=True)
class Statement:
    party: Party
    on: dt.date
    since: dt.date  # the first day of the recent period shown
    sections: tuple[StatementSection, ...]

    @property
    def days(self) -> int:
        return (self.on - self.since).days


def _shown(movements: list[Movement], since: dt.date) -> list[Movement]:
    """The movements a statement lists: see the module's docstring."""
    settled_on: dict[int, dt.date] = {}
    for movement in movements:
        if movement.kind in _SETTLING and movement.invoice_id is not None:
            settled_on[movement.invoice_id] = max(movement.day,
                                                  settled_on.get(movement.invoice_id,
                                                                 movement.day))
    items: set[int] = set()
    for movement in movements:
        if movement.kind not in (MovementKind.INVOICE, MovementKind.CREDIT_NOTE) \
                or movement.invoice_id is None:
            continue
        recent = movement.day >= since or settled_on.get(movement.invoice_id,
                                                          movement.day) >= since
        if movement.remaining or recent:
            items.add(movement.invoice_id)
    payments = {m.payment_id for m in movements
                if m.kind == MovementKind.ALLOCATION and m.invoice_id in items}
    shown = []
    for movement in movements:
        if movement.kind == MovementKind.ALLOCATION:
            continue  # a payment line names the invoices it went to
        if movement.invoice_id is not None and movement.payment_id is None:
            if movement.invoice_id in items:
                shown.append(movement)
        elif movement.day >= since or movement.payment_id in payments:
            shown.append(movement)
    return shown


def account_statement(session: Session, debtor_id: int, *, on: dt.date,
                      days: int = DEFAULT_DAYS) -> Statement:
    """The statement of debtor `debtor_id` as of `on`, with the last `days` days."""
    if days < 0:
        raise ValueError(f"a statement covers 0 days or more, not {days}")
    since = on - dt.timedelta(days=days)
    parties, found = load_movements(session, debtor_ids=[debtor_id])
    if debtor_id not in parties:
        raise LookupError(f"no debtor {debtor_id}")
    by_currency: dict[str, list[Movement]] = defaultdict(list)
    for movement in found.get(debtor_id, []):
        if movement.day <= on:
            by_currency[movement.currency].append(movement)
    sections = []
    for currency in sorted(by_currency):
        movements = by_currency[currency]
        shown = _shown(movements, since)
        balance = sum(m.signed for m in movements)
        brought_forward = balance - sum(m.signed for m in shown)
        overdue = not_due = 0
        for movement in movements:
            if movement.kind == MovementKind.INVOICE and movement.remaining:
                if movement.due is not None and movement.due < on:
                    overdue += movement.remaining
                else:
                    not_due += movement.remaining
        if not shown and not balance:
            continue
        sections.append(StatementSection(currency, brought_forward,
                                         with_balances(brought_forward, shown),
                                         overdue, not_due))
    return Statement(parties[debtor_id], on, since, tuple(sections))
