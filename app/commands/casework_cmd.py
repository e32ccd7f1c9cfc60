"""`relance pay INVOICE AMOUNT`: record a payment from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    QueueWatch,
    UserOption,
    debtor_label,
    emit_or_say,
    find_invoice_as,
    major,
    open_desk_as_actor,
)
from relance.commands.options import JsonOption, parse_day
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _


def pay(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help=_("Invoice number, e.g. FA-2026-0001."))],
    amount: Annotated[str, typer.Argument(
        help=_("Amount received: 1234.56, 1234,56, 1 234,56."))],
    on: Annotated[str | None, typer.Option(
        "--date", help=_("Received on (default: today)."))] = None,
    reference: Annotated[str, typer.Option(help=_("Bank or cheque reference."))] = "",
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework
    from relance.store.book import unallocated_minor
    from relance.store.models import Debtor

    context, actor = open_desk_as_actor(ctx, user, json_output)
    received_on = parse_day(on, "--date")
    with context.store.write_transaction() as session:
        target = find_invoice_as(session, actor, invoice, creditor_code=creditor)
        money_in = casework.parse_money(amount, target.currency)
        if money_in.minor <= 0:
            # pay_invoices would call a zero amount "nothing left to pay" on the invoice.
            raise UsageError(_("amount {amount!r}: a payment must be positive").format(
                amount=amount))
        watch = QueueWatch(session, [target.debtor_id])
        # The one rule for overpayments (the TUI's and the imports'): the invoice is
        # paid up to its balance, the rest stays on the debtor's account.
        payment = casework.pay_invoices(
            session, actor, [target.id], amount=money_in, received_on=received_on,
            reference=reference)
        debtor = session.get(Debtor, target.debtor_id)
        assert debtor is not None  # a foreign key
        surplus = unallocated_minor(payment)
        queue = watch.effect()
        result = {
            "payment_id": payment.id,
            "invoice": target.number,
            "amount": major(money_in.minor, money_in.currency),
            "currency": money_in.currency,
            "received_on": received_on.isoformat(),
            "reference": reference,
            "balance": major(target.balance_minor, target.currency),
            "status": target.status.value,
            "surplus": major(surplus, money_in.currency),
            "debtor": debtor.ref,
            "recorded_by": actor.name,
            "queue": queue.as_dict(),
        }
        recorded = dict(amount=show_money(money_in.minor, money_in.currency),
                        invoice=target.number, day=show_date(received_on),
                        payment=payment.id,
                        balance=show_money(target.balance_minor, target.currency))
        lines = [
            (_("Recorded {amount} on {invoice} ({day}), payment {payment}; balance now "
               "{balance} — paid.") if result["status"] == "paid" else
             _("Recorded {amount} on {invoice} ({day}), payment {payment}; balance now "
               "{balance}.")).format(**recorded),
            _("Surplus {amount} on the account of {debtor}.").format(
                amount=show_money(surplus, money_in.currency), debtor=debtor_label(debtor))
            if surplus else "",
            queue.sentence(),
        ]
    emit_or_say(context, result, lines)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("pay"))(pay)
