"""`relance remit` and `relance funds`: the client funds a collection firm holds.

`relance.engine.client_funds` works out the remittance (fees from the mandate, entries
marked remitted once) and `relance.channels.reports.remittance_pdf` writes its
statement into the outbox, both in one transaction: a remittance never lands without
its statement. `relance funds` lists the ledger, what is pending and what is overdue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    JsonOption,
    UserOption,
    debtor_cell,
    emit_or_say,
    open_desk_as_actor,
    say,
)
from relance.commands.options import parse_day
from relance.context import add_row, print_table
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _, ngettext

if TYPE_CHECKING:
    from relance.engine import client_funds

CreditorRequired = Annotated[str, typer.Option(
    "--creditor", help=_("The creditor's code."))]


def _statement_line(figures: client_funds.RemittanceFigures, path: str) -> list[str]:
    r = figures.remittance
    return [
        _("{reference} to {creditor}, funds booked up to {until}: collected {collected}, "
          "fees {fees} (on sums collected {percent}, fixed {fixed}), net to pay {net}.")
        .format(reference=r.reference, creditor=figures.creditor_code,
                until=show_date(r.until), collected=show_money(r.collected_minor, r.currency),
                fees=show_money(r.fees_minor, r.currency),
                percent=show_money(figures.percent_fees_minor, r.currency),
                fixed=show_money(figures.fixed_fees_minor, r.currency),
                net=show_money(r.net_minor, r.currency)),
        _("  Statement: {path}").format(path=path),
    ]


def remit_command(
    ctx: typer.Context,
    creditor: CreditorRequired,
    until: Annotated[str, typer.Option(
        "--until", help=_("The last day of the funds remitted (entries booked up to it)."))],
    on: Annotated[str | None, typer.Option(
        "--on", help=_("The day of the remittance (default: today)."))] = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import client_funds

    context, actor = open_desk_as_actor(ctx, user, json_output)
    last = parse_day(until, "--until")
    made_on = parse_day(on, "--on")
    if last > made_on:
        raise UsageError(_("--until {until} is after the remittance day {day}: only funds "
                           "already collected can be remitted").format(
            until=show_date(last), day=show_date(made_on)))
    # Imported here: the PDF's renderer is heavy, and only this command needs it.
    from relance.channels.reports.remittance_pdf import save_remittance_statement

    with context.store.write_transaction() as session:
        made = client_funds.remit(session, actor, creditor, last, made_on)
        paths = [str(save_remittance_statement(session, context.workspace, figures))
                 for figures in made]
        payload = [figures.as_json() for figures in made]
    if not made:
        emit_or_say(context, {"creditor": creditor, "until": last.isoformat(),
                              "remittances": []},
                    [_("Nothing to remit to {creditor} up to {until}: every entry booked "
                       "by then was remitted already.").format(
                        creditor=creditor, until=show_date(last))])
        return
    lines: list[str] = []
    for figures, path in zip(made, paths, strict=True):
        lines += _statement_line(figures, path)
    emit_or_say(context, {"creditor": creditor, "until": last.isoformat(),
                          "remittances": payload}, lines)


def funds_command(
    ctx: typer.Context,
    creditor: Annotated[str | None, typer.Option(
        "--creditor", help=_("Only this creditor (its code)."))] = None,
    on: Annotated[str | None, typer.Option(
        "--on", help=_("The day overdue funds are judged on (default: today)."))] = None,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import client_funds
    from relance.engine.scope import creditor_ids, require_visible
    from relance.store.models import Creditor

    context, actor = open_desk_as_actor(ctx, user, json_output)
    today = parse_day(on, "--on")
    with context.store.session() as session:
        ids = creditor_ids(session, actor)
        if creditor is not None:
            not_found = _("no creditor {code}").format(code=creditor)
            found = session.query(Creditor).filter_by(code=creditor.strip()).one_or_none()
            if found is None:
                raise NotFound(not_found)
            require_visible(session, actor, found.id, not_found)
            ids = [found.id]
        entries = client_funds.ledger(session, ids)
        overdue = client_funds.overdue_funds(session, today, ids)
        made = client_funds.remittances(session, ids)
        codes = {c.id: c.code for c in session.query(Creditor).all()}
        remitted = [{"reference": r.reference, "creditor": codes[r.creditor_id],
                     "currency": r.currency, "until": r.until.isoformat(),
                     "made_on": r.made_on.isoformat(), "collected_minor": r.collected_minor,
                     "fees_minor": r.fees_minor, "net_minor": r.net_minor,
                     "statement": r.statement_path} for r in made]
    pending = [line for line in entries if line.remittance is None]
    totals = _pending_totals(pending)
    if context.json_output:
        context.emit_json({
            "on": today.isoformat(), "entries": [line.as_json() for line in entries],
            "pending": [{"creditor": code, "currency": currency, "amount_minor": minor}
                        for (code, currency), minor in sorted(totals.items())],
            "overdue": [item.as_json() for item in overdue], "remittances": remitted})
        return
    if not entries:
        say(context, _("No client funds: no payment was collected under a mandate."))
        return
    _print_ledger(context, entries)
    for (code, currency), minor in sorted(totals.items()):
        say(context, _("Pending for {creditor}: {amount}.").format(
            creditor=code, amount=show_money(minor, currency)))
    if not totals:
        say(context, _("Nothing pending: every entry was remitted."))
    if overdue:
        say(context, ngettext(
            "{count} payment collected and not remitted in time:",
            "{count} payments collected and not remitted in time:", len(overdue)).format(
            count=len(overdue)))
        for item in overdue:
            line = item.line
            say(context, ngettext(
                "  {creditor} {debtor} {amount} collected on {day}, to remit by {due}: "
                "{days} day late.",
                "  {creditor} {debtor} {amount} collected on {day}, to remit by {due}: "
                "{days} days late.", item.days_late).format(
                creditor=line.creditor_code, debtor=line.debtor_ref,
                amount=show_money(line.amount_minor, line.currency),
                day=show_date(line.booked_on), due=show_date(line.due_on),
                days=item.days_late))


def _pending_totals(pending: list[client_funds.FundLine]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for line in pending:
        key = (line.creditor_code, line.currency)
        totals[key] = totals.get(key, 0) + line.amount_minor
    return totals


def _print_ledger(context: Any, entries: list[client_funds.FundLine]) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title, right in ((_("booked"), False), (_("creditor"), False), (_("debtor"), False),
                         (_("case"), False), (_("entry"), False), (_("amount"), True),
                         (_("remitted"), False)):
        table.add_column(title, justify="right" if right else "left")
    for line in entries:
        add_row(table, show_date(line.booked_on), line.creditor_code,
                debtor_cell(line.debtor_ref, line.debtor_name), line.case_reference,
                _("collected") if line.kind == "collected" else _("reversed"),
                show_money(line.amount_minor, line.currency),
                line.remittance or _("pending"))
    print_table(context.console, table)


def register(app: typer.Typer) -> None:
    app.command("remit", help=command_help("remit"))(remit_command)
    app.command("funds", help=command_help("funds"))(funds_command)
