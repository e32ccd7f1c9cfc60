"""`relance pay INVOICE AMOUNT`: record a payment from the command line."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from relance.context import AppContext
from relance.engine import casework
from relance.engine.roles import Actor, load_policy
from relance.store.book import find_invoice
from relance.store.money import to_decimal
from relance.workspace import Workspace


def acting_user(workspace: Workspace, name: str) -> Actor:
    """The user named by --user (or the OS user), checked against `[users]`."""
    policy = load_policy(workspace.section("users"), workspace.section("approval"),
                         label=workspace.config_label)
    return policy.actor(name)


def pay(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help="Invoice number, e.g. FA-2026-0001.")],
    amount: Annotated[str, typer.Argument(help="Amount received: 1234.56, 1234,56, 1 234,56.")],
    on: Annotated[str | None, typer.Option("--date", help="Received on (default: today).")] = None,
    reference: Annotated[str, typer.Option(help="Bank or cheque reference.")] = "",
    creditor: Annotated[
        str | None, typer.Option(help="Creditor code, when several use the same number.")
    ] = None,
) -> None:
    """Record a payment on one invoice (its balance and status follow)."""
    context: AppContext = ctx.obj
    actor = acting_user(context.workspace, context.user)
    received_on = casework.parse_day(on, what="--date") if on else dt.date.today()
    with context.store.write_transaction() as session:
        target = find_invoice(session, invoice, creditor_code=creditor)
        money = casework.parse_money(amount, target.currency)
        payment = casework.record_payment(
            session, actor, creditor_id=target.creditor_id, debtor_id=target.debtor_id,
            amount=money, received_on=received_on, reference=reference,
            allocations=[(target.id, money.minor)])
        result = {
            "payment_id": payment.id,
            "invoice": target.number,
            "amount": str(money.amount),
            "currency": money.currency,
            "received_on": received_on.isoformat(),
            "reference": reference,
            "balance": str(to_decimal(target.balance_minor, target.currency)),
            "status": target.status.value,
            "recorded_by": actor.name,
        }
    if context.json_output:
        context.emit_json(result)
        return
    context.console.print(
        f"Recorded {result['amount']} {money.currency} on {target.number} "
        f"({received_on.isoformat()}); balance now {result['balance']} {money.currency}"
        f"{' — paid' if result['status'] == 'paid' else ''}."
    )


def register(app: typer.Typer) -> None:
    app.command()(pay)
