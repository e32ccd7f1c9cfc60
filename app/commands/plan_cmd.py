"""`relance plan add/list/cancel`: payment plans from the command line.

`relance.engine.plans` checks the schedule (dates in order, instalments adding up to
what the invoices owe today), records the plan and settles the queue; these commands
read the schedule as typed and list the plans with how far their instalments are paid.
"""

from __future__ import annotations

import datetime as dt
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
    debtor_cell,
    debtor_label,
    emit_or_say,
    find_debtor_as,
    find_invoices,
    major,
    open_desk,
    open_desk_as_actor,
    reader_of,
    say,
)
from relance.commands.options import JsonOption
from relance.context import add_row, print_table
from relance.kernel.dates import parse_day
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.store.models import PaymentPlan

plan_app = typer.Typer(help=command_help("plan"),
                       no_args_is_help=True)


def parse_schedule(text: str, currency: str) -> list[tuple[dt.date, int]]:
    """`2026-12-15:500,2027-01-15:500` (or `;` between instalments). An amount may have
    a decimal comma (`2026-12-15:500,50`): a piece with no `:` continues the amount
    before it, since every instalment starts with its date and a colon."""
    from relance.engine import casework

    pieces: list[str] = []
    for piece in (p.strip() for p in text.replace(";", ",").split(",")):
        if ":" in piece or not pieces:
            pieces.append(piece)
        else:
            pieces[-1] += "," + piece
    schedule = []
    for piece in pieces:
        day_text, sep, amount_text = piece.partition(":")
        if not sep or not day_text.strip() or not amount_text.strip():
            raise UsageError(_("--schedule {piece!r}: write DATE:AMOUNT, comma-separated "
                               "({example})").format(piece=piece,
                                                    example="2026-12-15:500,2027-01-15:500"))
        day = parse_day(day_text.strip(), what=_("--schedule date"))
        amount = casework.parse_money(amount_text, currency, what=_("--schedule amount"))
        schedule.append((day, amount.minor))
    return schedule


@plan_app.command("add", help=_("Agree a payment plan on a debtor's invoices; their reminders "
                                "stop while it holds."))
def add(
    ctx: typer.Context,
    invoices: Annotated[list[str], typer.Argument(help=_("The invoices the plan covers."))],
    instalments: Annotated[int | None, typer.Option(
        "--instalments", help=_("How many equal instalments."))] = None,
    first: Annotated[str | None, typer.Option(
        "--first", help=_("The first instalment's day."))] = None,
    every: Annotated[str | None, typer.Option(
        "--every", help=_("Between instalments: 15d, 2w, 1m (default 1m)."))] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help=_("Explicit instalments instead: 2026-12-15:500,2027-01-15:500."))
    ] = None,
    creditor: CreditorOption = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import plans

    context, actor = open_desk_as_actor(ctx, user, json_output)
    if schedule is not None and (instalments, first, every) != (None, None, None):
        raise UsageError(_("give --schedule, or --instalments with --first, not both"))
    first_day = parse_day(first, what="--first") if first is not None else None
    period = plans.Every.parse(every) if every is not None else None
    with context.store.write_transaction() as session:
        targets = find_invoices(session, invoices, creditor_code=creditor, actor=actor)
        explicit = (parse_schedule(schedule, targets[0].currency)
                    if schedule is not None else None)
        watch = QueueWatch(session, [invoice.debtor_id for invoice in targets])
        plan = plans.create_plan(session, actor, [i.id for i in targets],
                                 today=dt.date.today(), schedule=explicit, count=instalments,
                                 first=first_day, every=period)
        queue = watch.effect()
        row = plan_row(session, plan, dt.date.today())
    count = len(row["instalments"])
    lines = [ngettext("Plan {id} agreed with {debtor} on {invoices}: {count} instalment, "
                      "total {total}.",
                      "Plan {id} agreed with {debtor} on {invoices}: {count} instalments, "
                      "total {total}.", count).format(
        id=row["id"], debtor=f"{row['debtor_name']} ({row['debtor_ref']})",
        invoices=", ".join(row["invoices"]), count=show_count(count),
        total=show_money(row["_total_minor"], row["currency"]))]
    lines += [f"  {show_date(i['_due_on'])}  {show_money(i['_amount_minor'], row['currency'])}"
              for i in row["instalments"]]
    emit_or_say(context, _public(row) | {"queue": queue.as_dict()},
                [*lines, queue.sentence()])


def plan_row(session: Session, plan: PaymentPlan, today: dt.date) -> dict[str, Any]:
    """A plan as listed: status, invoices, and its instalments due and paid so far."""
    from sqlalchemy import select

    from relance.store.models import Debtor, Invoice, PaymentPlanInvoice

    debtor = session.get(Debtor, plan.debtor_id)
    assert debtor is not None  # a foreign key
    numbers = list(session.scalars(
        select(Invoice.number).join(PaymentPlanInvoice,
                                    PaymentPlanInvoice.invoice_id == Invoice.id)
        .where(PaymentPlanInvoice.plan_id == plan.id).order_by(Invoice.due_date, Invoice.id)))
    steps = sorted(plan.instalments, key=lambda i: i.due_on)
    currency = plan.currency
    total = sum(i.amount_minor for i in steps)
    return {
        "id": plan.id, "status": plan.status.value, "debtor_ref": debtor.ref,
        "debtor_name": debtor.name, "invoices": numbers, "currency": currency,
        "agreed_on": plan.agreed_on.isoformat(),
        "ended_on": plan.ended_on.isoformat() if plan.ended_on else None,
        "total": major(total, currency), "_total_minor": total,
        "instalments_due": sum(1 for i in steps if i.due_on <= today),
        "instalments_paid": sum(1 for i in steps if i.paid_minor >= i.amount_minor),
        "instalments": [{"due_on": i.due_on.isoformat(),
                         "amount": major(i.amount_minor, currency),
                         "paid": major(i.paid_minor, currency),
                         "_amount_minor": i.amount_minor, "_due_on": i.due_on}
                        for i in steps],
    }


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The row without the minor units kept for printing."""
    return {k: ([_public(i) for i in v] if k == "instalments" else v)
            for k, v in row.items() if not k.startswith("_")}


@plan_app.command("list", help=_("The payment plans, newest first: status, instalments due "
                                 "and paid."))
def list_plans(
    ctx: typer.Context,
    debtor: DebtorFilterOption = None,
    creditor: CreditorOption = None,
    json_output: JsonOption = False,
) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from relance.engine.scope import scoped
    from relance.store.models import PaymentPlan

    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    today = dt.date.today()
    with context.store.session() as session:
        query = scoped(session, select(PaymentPlan).options(
            selectinload(PaymentPlan.instalments)), PaymentPlan.creditor_id, reader)
        if debtor is not None:
            found = find_debtor_as(session, reader, debtor, creditor_code=creditor)
            query = query.where(PaymentPlan.debtor_id == found.id)
        rows = [plan_row(session, plan, today)
                for plan in session.scalars(query.order_by(PaymentPlan.id.desc()))]
    if context.json_output:
        context.emit_json([_public(row) for row in rows])
        return
    if not rows:
        say(context, _("No payment plan."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title, right in ((_("plan"), True), (_("status"), False), (_("debtor"), False),
                         (_("invoices"), False), (_("total"), True), (_("due"), True),
                         (_("paid"), True), (_("next"), False)):
        table.add_column(title, justify="right" if right else "left")
    for row in rows:
        unpaid = [i for i in row["instalments"] if i["paid"] != i["amount"]]
        upcoming = (f"{show_date(unpaid[0]['_due_on'])} "
                    f"{show_money(unpaid[0]['_amount_minor'], row['currency'])}"
                    if unpaid and row["status"] == "active" else "—")
        add_row(table, str(row["id"]), row["status"],
                debtor_cell(row["debtor_ref"], row["debtor_name"]),
                ", ".join(row["invoices"]),
                show_money(row["_total_minor"], row["currency"]),
                f"{row['instalments_due']}/{len(row['instalments'])}",
                f"{row['instalments_paid']}/{len(row['instalments'])}", upcoming)
    print_table(context.console, table)


@plan_app.command("cancel", help=_("End a plan in force: its invoices are chased again from "
                                   "the next run."))
def cancel(
    ctx: typer.Context,
    plan_id: Annotated[int, typer.Argument(help=_("The plan (see relance plan list)."))],
    reason: Annotated[str, typer.Option("--reason", help=_("Why (kept in the audit log)."))],
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import plans
    from relance.store.models import Debtor

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        plan = plans.cancel_plan(session, actor, plan_id, reason=reason,
                                 today=dt.date.today())
        debtor = session.get(Debtor, plan.debtor_id)
        assert debtor is not None  # a foreign key
        label = debtor_label(debtor)
    emit_or_say(context, {"plan_id": plan_id, "status": "cancelled", "reason": reason.strip()},
                [_("Plan {id} of {debtor} cancelled: its invoices are chased again from the "
                   "next run.").format(id=plan_id, debtor=label)])


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
