"""`relance request list/accept/refuse`: what debtors asked on their page (`relance web`).

A payment a debtor declared as made, with its proof, waits for an operator: accepting it
records the payment; a payment plan asked for waits too: accepting it agrees the plan
(monthly instalments). Refusing either keeps the reason in the log and tells the debtor
to get in touch. `relance.engine.portal_decisions` makes each decision.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    DebtorFilterOption,
    QueueWatch,
    UserOption,
    creditor_code,
    debtor_cell,
    emit_or_say,
    find_debtor_as,
    major,
    open_desk,
    open_desk_as_actor,
    reader_of,
    say,
)
from relance.commands.options import JsonOption
from relance.context import add_row, print_table
from relance.kernel.dates import parse_day
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.store.states import RequestKind, RequestState

if TYPE_CHECKING:
    # The core and the models are imported by the commands that use them: `relance
    # request --help` does without SQLAlchemy.
    from relance.store.models import Debtor, PortalRequest

request_app = typer.Typer(help=command_help("request"), no_args_is_help=True)

KIND_WORDS = {
    RequestKind.PAYMENT_DECLARED.value: N_("payment declared"),
    RequestKind.PLAN_REQUESTED.value: N_("plan asked for"),
}
STATE_WORDS = {
    RequestState.OPEN.value: N_("open"),
    RequestState.ACCEPTED.value: N_("accepted"),
    RequestState.REFUSED.value: N_("refused"),
}
RequestArgument = Annotated[int, typer.Argument(help=_("The request (see relance request "
                                                       "list)."))]


def request_row(request: PortalRequest, debtor: Debtor, creditor: str) -> dict[str, Any]:
    """A request as listed and as `--json` gives it (amounts exact, days ISO)."""
    data = request.data or {}
    currency = str(data.get("currency") or "")
    minor = data.get("amount_minor", data.get("total_minor"))
    return {
        "id": request.id, "kind": request.kind, "state": request.state,
        "creditor": creditor, "debtor_ref": debtor.ref, "debtor_name": debtor.name,
        "created_at": request.created_at.isoformat(),
        "invoices": list(data.get("invoices", [])),
        "amount": major(int(minor), currency) if minor is not None and currency else None,
        "currency": currency or None,
        "paid_on": data.get("paid_on"), "reference": data.get("reference"),
        "instalments": data.get("instalments"), "first_on": data.get("first_on"),
        "proof": request.proof_path,
        "held_until": (data.get("hold") or {}).get("until"),
        "decided_by": request.decided_by,
        "_minor": int(minor) if minor is not None else None,
    }


def _what(row: dict[str, Any]) -> str:
    """What the debtor asked, in a table cell."""
    amount = (show_money(row["_minor"], row["currency"]) if row["_minor"] is not None
              and row["currency"] else "")
    if row["kind"] == RequestKind.PAYMENT_DECLARED.value:
        paid = dt.date.fromisoformat(row["paid_on"]) if row["paid_on"] else None
        return _("{amount} paid on {day}").format(amount=amount, day=show_date(paid))
    first = dt.date.fromisoformat(row["first_on"]) if row["first_on"] else None
    return _("{amount} in {count} instalments from {day}").format(
        amount=amount, count=row["instalments"], day=show_date(first))


@request_app.command("list", help=_("The debtors' requests, oldest first: open ones unless "
                                    "--all."))
def list_requests(
    ctx: typer.Context,
    every: Annotated[bool, typer.Option("--all", help=_("Decided ones too."))] = False,
    debtor: DebtorFilterOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.portal_decisions import requests_of

    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    with context.store.session() as session:
        debtor_id = find_debtor_as(session, reader, debtor).id if debtor else None
        rows = [request_row(request, found, creditor_code(session, found.creditor_id))
                for request, found in requests_of(
                    session, reader, state=None if every else RequestState.OPEN,
                    debtor_id=debtor_id)]
    if context.json_output:
        context.emit_json([{k: v for k, v in row.items() if not k.startswith("_")}
                           for row in rows])
        return
    if not rows:
        say(context, _("No request waits for a decision.") if not every else
            _("No request."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title in (_("request"), _("state"), _("debtor"), _("asked"), _("invoices"),
                  _("proof")):
        table.add_column(title, justify="right" if title == _("request") else "left")
    for row in rows:
        add_row(table, str(row["id"]), _(STATE_WORDS.get(row["state"], row["state"])),
                debtor_cell(row["debtor_ref"], row["debtor_name"]),
                f"{_(KIND_WORDS.get(row['kind'], row['kind']))}: {_what(row)}",
                ", ".join(row["invoices"]), row["proof"] or "—")
    print_table(context.console, table)


@request_app.command("accept", help=_("Accept a request: a declared payment is recorded, a "
                                      "plan is agreed."))
def accept(
    ctx: typer.Context,
    request_id: RequestArgument,
    amount: Annotated[str | None, typer.Option(
        "--amount", help=_("The amount received, when it differs from the one declared."))
    ] = None,
    received_on: Annotated[str | None, typer.Option(
        "--received-on", help=_("The day it was received, when not the day declared."))
    ] = None,
    first: Annotated[str | None, typer.Option(
        "--first", help=_("The first instalment's day, when the one asked for is past."))
    ] = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import casework
    from relance.engine.portal_decisions import accept_request
    from relance.store.models import PortalRequest

    context, actor = open_desk_as_actor(ctx, user, json_output)
    today = dt.date.today()
    received = parse_day(received_on, what="--received-on") if received_on else None
    first_day = parse_day(first, what="--first") if first else None
    with context.store.write_transaction() as session:
        request = session.get(PortalRequest, request_id)
        if request is None:
            raise UsageError(_("no request {id}").format(id=request_id))
        currency = str((request.data or {}).get("currency") or "EUR")
        money = casework.parse_money(amount, currency, what="--amount") if amount else None
        watch = QueueWatch(session, [request.debtor_id])
        decision = accept_request(session, actor, request_id, today=today, amount=money,
                                  received_on=received, first_on=first_day)
        queue = watch.effect()
    if decision.payment_id is not None:
        line = _("Request {id} accepted: payment {payment} recorded.").format(
            id=request_id, payment=decision.payment_id)
    else:
        line = _("Request {id} accepted: plan {plan} agreed.").format(
            id=request_id, plan=decision.plan_id)
    emit_or_say(context, {"request_id": request_id, "state": "accepted",
                          "payment_id": decision.payment_id, "plan_id": decision.plan_id,
                          "queue": queue.as_dict()}, [line, queue.sentence()])


@request_app.command("refuse", help=_("Refuse a request, with a reason kept in the log; the "
                                      "debtor is asked to get in touch."))
def refuse(
    ctx: typer.Context,
    request_id: RequestArgument,
    reason: Annotated[str, typer.Option("--reason", help=_("Why (kept in the audit log)."))],
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.portal_decisions import refuse_request

    context, actor = open_desk_as_actor(ctx, user, json_output)
    with context.store.write_transaction() as session:
        refuse_request(session, actor, request_id, reason=reason, today=dt.date.today())
    emit_or_say(context, {"request_id": request_id, "state": "refused",
                          "reason": reason.strip()},
                [_("Request {id} refused: the debtor's reminders follow the rules "
                   "again.").format(id=request_id)])


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
