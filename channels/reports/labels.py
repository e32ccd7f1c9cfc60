"""What a movement of an account is called, in the language spoken (statement, ledger)."""

from __future__ import annotations

from relance.engine.subledger import Movement, MovementKind
from relance.kernel.display import show_date
from relance.kernel.i18n import N_, _

KIND_TITLES: dict[MovementKind, str] = {
    MovementKind.INVOICE: N_("Invoice"),
    MovementKind.CREDIT_NOTE: N_("Credit note"),
    MovementKind.PAYMENT: N_("Payment"),
    MovementKind.ALLOCATION: N_("Allocation"),
    MovementKind.SETTLEMENT: N_("Settlement"),
    MovementKind.WRITE_OFF: N_("Write-off"),
    MovementKind.REVERSAL: N_("Reversal"),
}


def kind_title(kind: MovementKind) -> str:
    return _(KIND_TITLES[kind])


def movement_label(movement: Movement) -> str:
    """`Payment for F-101, F-102`, `Payment reversed: returned`: the line's wording."""
    kind = movement.kind
    invoices = ", ".join(movement.matched)
    if kind is MovementKind.INVOICE:
        return _("Invoice")
    if kind is MovementKind.CREDIT_NOTE:
        if invoices:
            return _("Credit note on {invoices}").format(invoices=invoices)
        return _("Credit note")
    if kind is MovementKind.PAYMENT:
        if movement.reversed_on is not None:
            return _("Payment, reversed on {day}").format(day=show_date(movement.reversed_on))
        if invoices:
            return _("Payment for {invoices}").format(invoices=invoices)
        return _("Payment on account")
    if kind is MovementKind.ALLOCATION:
        return _("Allocated to invoice {number}").format(number=movement.invoice_number)
    if kind is MovementKind.SETTLEMENT:
        return _("Paid as the accounting import says")
    if kind is MovementKind.WRITE_OFF:
        return _("Invoice cancelled, balance written off")
    if movement.note:
        return _("Payment reversed: {reason}").format(reason=movement.note)
    return _("Payment reversed")
