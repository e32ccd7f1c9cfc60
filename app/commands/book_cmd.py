"""`relance credit-note`, `reverse`, `allocate`, `payments`: money on the book that is
not a plain payment (`relance pay` is in `casework_cmd`).

The core (`relance.engine.casework` over `relance.store.book`) allocates, reopens and
settles the queue; these commands resolve what was typed (invoice numbers, debtor
references, amounts, dates) and word the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    DebtorFilterOption,
    QueueWatch,
    UserOption,
    creditor_code,
    debtor_cell,
    emit_or_say,
    find_debtor_as,
    find_invoice_as,
    major,
    open_desk,
    open_desk_as_actor,
    payment_as,
    reader_of,
    say,
)
from relance.commands.options import JsonOption, parse_day
from relance.context import add_row, print_table
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.engine.roles import Actor
    from relance.store.models import Invoice, Payment

DateOption = Annotated[str | None, typer.Option(
    "--date", help=_("The day (default: today)."))]


def credit_note(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help=_("The invoice it credits."))],
    amount: Annotated[str, typer.Argument(
        help=_("Its amount: 1234.56, 1234,56, 1 234,56."))],
    number: Annotated[str, typer.Option("--number", help=_("The credit note's number."))],
    on: DateOption = None,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework

    context, actor = open_desk_as_actor(ctx, user, json_output)
    day = parse_day(on, "--date")
    with context.store.write_transaction() as session:
        target = find_invoice_as(session, actor, invoice, creditor_code=creditor)
        credited = casework.parse_money(amount, target.currency)
        watch = QueueWatch(session, [target.debtor_id])
        recorded = casework.record_credit_note(session, actor, target.id, amount=credited,
                                               on=day, reference=number)
        queue = watch.effect()
        result = {"payment_id": recorded.id, "credit_note": number.strip(),
                  "invoice": target.number, "amount": major(credited.minor, credited.currency),
                  "currency": credited.currency, "date": day.isoformat(),
                  "balance": major(target.balance_minor, target.currency),
                  "status": target.status.value, "queue": queue.as_dict()}
        balance = show_money(target.balance_minor, target.currency)
    emit_or_say(context, result, [
        _("Credit note {number} of {amount} on {invoice} (payment {payment}); balance now "
          "{balance}.").format(number=number.strip(),
                               amount=show_money(credited.minor, credited.currency),
                               invoice=target.number, payment=recorded.id, balance=balance),
        queue.sentence()])


def reverse(
    ctx: typer.Context,
    payment_id: Annotated[int, typer.Argument(
        help=_("The payment (see relance payments)."))],
    reason: Annotated[str, typer.Option(
        "--reason", help=_("Why: returned debit, bounced cheque..."))],
    on: DateOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from sqlalchemy import select

    from relance.engine import casework
    from relance.store.models import Invoice

    context, actor = open_desk_as_actor(ctx, user, json_output)
    day = parse_day(on, "--date")
    with context.store.write_transaction() as session:
        before = payment_as(session, actor, payment_id)
        invoice_ids = [a.invoice_id for a in before.allocations]
        watch = QueueWatch(session, [before.debtor_id])
        payment = casework.reverse_payment(session, actor, payment_id, on=day, reason=reason)
        reopened = session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids))
                                   .order_by(Invoice.number)).all() if invoice_ids else []
        queue = watch.effect()
        result = {"payment_id": payment.id, "reversed_on": day.isoformat(),
                  "reason": reason.strip(),
                  "invoices": [{"number": i.number,
                                "balance": major(i.balance_minor, i.currency),
                                "currency": i.currency} for i in reopened],
                  "queue": queue.as_dict()}
        listed = ", ".join(_("{invoice} (balance {balance})").format(
            invoice=i.number, balance=show_money(i.balance_minor, i.currency))
            for i in reopened)
        amount = show_money(payment.amount_minor, payment.currency)
    said = dict(id=payment_id, amount=amount, day=show_date(day), invoices=listed)
    emit_or_say(context, result, [
        (_("Payment {id} of {amount} reversed on {day}; reopened {invoices}.") if listed
         else _("Payment {id} of {amount} reversed on {day}.")).format(**said),
        queue.sentence()])


def _allocations(session: Session, payment: Payment, specs: list[str],
                 code: str) -> list[tuple[int, int]]:
    """`N` or `N:AMOUNT` for each --invoice; the invoices given without an amount share
    what the amounts leave, in the order given, each up to its balance (as `pay`)."""
    from relance.engine import casework
    from relance.store.book import find_invoice, share_out, unallocated_minor

    named: list[tuple[Invoice, Money | None]] = []
    for spec in specs:
        number, sep, amount = spec.rpartition(":") if ":" in spec else (spec, "", "")
        invoice = find_invoice(session, number.strip(), creditor_code=code)
        named.append((invoice, casework.parse_money(amount, payment.currency,
                                                    what=_("--invoice {spec!r}: amount")
                                                    .format(spec=spec))
                      if sep else None))
    left = unallocated_minor(payment) - sum(m.minor for _, m in named if m is not None)
    shares = dict(share_out([i for i, m in named if m is None], max(left, 0),
                            payment.currency))
    pairs = [(invoice.id, m.minor if m is not None else shares.get(invoice.id, 0))
             for invoice, m in named]
    for invoice, m in named:
        if m is None and not shares.get(invoice.id):
            raise UsageError(_("--invoice {invoice}: nothing of the payment is left for it "
                               "(or it owes nothing)").format(invoice=invoice.number))
    return pairs


def allocate(
    ctx: typer.Context,
    payment_id: Annotated[int, typer.Argument(
        help=_("The payment (see relance payments --unallocated)."))],
    debtor: Annotated[str | None, typer.Option(
        "--debtor", help=_("The debtor it is from (a payment in suspense): its oldest "
                           "invoices first."))] = None,
    invoices: Annotated[list[str] | None, typer.Option(
        "--invoice", help=_("N or N:AMOUNT, repeatable (default: oldest due first)."))
    ] = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework
    from relance.store.book import find_debtor, unallocated_minor

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        payment = payment_as(session, actor, payment_id)
        # References are read within the payment's creditor: it names the ledger.
        code = creditor_code(session, payment.creditor_id)
        debtor_id = find_debtor(session, debtor, creditor_code=code).id if debtor else None
        pairs = _allocations(session, payment, invoices, code) if invoices else None
        watch = QueueWatch(session, [debtor_id, payment.debtor_id])
        done = casework.allocate_payment(session, actor, payment_id, debtor_id=debtor_id,
                                         allocations=pairs)
        left = unallocated_minor(payment)
        queue = watch.effect()
        currency = payment.currency
    result = {"payment_id": payment_id,
              "allocations": [{"invoice": a.number, "amount": major(a.amount_minor, currency),
                               "balance_after": major(a.balance_after_minor, currency)}
                              for a in done],
              "unallocated": major(left, currency), "currency": currency,
              "queue": queue.as_dict()}
    listed = ", ".join(_("{amount} to {invoice} (balance now {balance})").format(
        amount=show_money(a.amount_minor, currency), invoice=a.number,
        balance=show_money(a.balance_after_minor, currency)) for a in done)
    emit_or_say(context, result, [
        _("Payment {id}: allocated {allocations}; {amount} left unallocated.").format(
            id=payment_id, allocations=listed, amount=show_money(left, currency)),
        queue.sentence()])


def payment_rows(session: Session, *, unallocated: bool, debtor_id: int | None,
                 limit: int, actor: Actor | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import selectinload

    from relance.engine.scope import scoped
    from relance.store.book import unallocated_minor
    from relance.store.models import Debtor, Payment, PaymentAllocation

    allocated = (select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
                 .where(PaymentAllocation.payment_id == Payment.id)
                 .correlate(Payment).scalar_subquery())
    query = scoped(session, select(Payment).options(selectinload(Payment.allocations)),
                   Payment.creditor_id, actor)
    if unallocated:
        # The suspense list and credits on account: what no invoice has taken yet.
        query = query.where(Payment.reversed_on.is_(None), Payment.amount_minor > allocated)
    if debtor_id is not None:
        query = query.where(Payment.debtor_id == debtor_id)
    payments = session.scalars(query.order_by(Payment.received_on.desc(), Payment.id.desc())
                               .limit(limit)).all()
    ids = {p.debtor_id for p in payments if p.debtor_id is not None}
    debtors = {d.id: d for d in session.scalars(
        select(Debtor).where(Debtor.id.in_(ids)))} if ids else {}
    rows = []
    for payment in payments:
        owner = debtors.get(payment.debtor_id) if payment.debtor_id is not None else None
        rows.append({
            "id": payment.id, "received_on": payment.received_on.isoformat(),
            "kind": payment.kind.value,
            "debtor_ref": owner.ref if owner else None,
            "debtor_name": owner.name if owner else None,
            "amount": major(payment.amount_minor, payment.currency),
            "unallocated": major(unallocated_minor(payment), payment.currency),
            "currency": payment.currency, "reference": payment.reference,
            "source": payment.source,
            "reversed_on": payment.reversed_on.isoformat() if payment.reversed_on else None,
            "_received_on": payment.received_on, "_reversed_on": payment.reversed_on,
            "_amount_minor": payment.amount_minor,
            "_unallocated_minor": unallocated_minor(payment),
        })
    return rows


def payments(
    ctx: typer.Context,
    unallocated: Annotated[bool, typer.Option(
        "--unallocated", help=_("Only payments with something unallocated: the suspense "
                                "list and credits on account."))] = False,
    debtor: DebtorFilterOption = None,
    creditor: CreditorOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help=_("How many, newest first."))
                     ] = 200,
    json_output: JsonOption = False,
) -> None:
    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    with context.store.session() as session:
        debtor_id = (find_debtor_as(session, reader, debtor, creditor_code=creditor).id
                     if debtor else None)
        rows = payment_rows(session, unallocated=unallocated, debtor_id=debtor_id,
                            limit=limit, actor=reader)
    if context.json_output:
        context.emit_json([{k: v for k, v in row.items() if not k.startswith("_")}
                           for row in rows])
        return
    if not rows:
        say(context, _("No payment with anything unallocated.") if unallocated
            else _("No payment."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(_("id"), justify="right")
    table.add_column(_("received"))
    table.add_column(_("debtor"))
    table.add_column(_("amount"), justify="right")
    table.add_column(_("unallocated"), justify="right")
    table.add_column(_("reference"))
    table.add_column(_("note"))
    for row in rows:
        who = (debtor_cell(row["debtor_ref"], row["debtor_name"]) if row["debtor_ref"]
               else _("suspense"))
        remark = (_("reversed {day}").format(day=show_date(row["_reversed_on"]))
                  if row["reversed_on"]
                  else _("credit note") if row["kind"] == "credit_note" else "")
        add_row(table, str(row["id"]), show_date(row["_received_on"]), who,
                show_money(row["_amount_minor"], row["currency"]),
                show_money(row["_unallocated_minor"], row["currency"]),
                row["reference"], remark)
    print_table(context.console, table)


def register(app: typer.Typer) -> None:
    app.command("credit-note", help=command_help("credit-note"))(credit_note)
    app.command(help=command_help("reverse"))(
        reverse)
    app.command(help=command_help("allocate"))(allocate)
    app.command(help=command_help("payments"))(
        payments)

