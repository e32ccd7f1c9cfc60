"""`relance portfolio assign` and `relance portfolio show`: collectors' portfolios.

`assign` puts debtors (named, or all of a creditor's, or of a segment) in a user's
portfolio through `relance.engine.portfolios.assign`, which checks the roles and the
creditors each user may see and records an audit event per debtor changed. `show` lists
a portfolio, or every debtor that has a collector.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    creditor_id_as,
    debtor_cell,
    emit_or_say,
    find_debtor_as,
    open_desk,
    open_desk_as_actor,
    policy_of,
    reader_of,
    say,
)
from relance.commands.options import JsonOption
from relance.context import add_row, print_table
from relance.kernel.display import show_count
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext

portfolio_app = typer.Typer(
    help=command_help("portfolio"),
    no_args_is_help=True)

# Here `--user` names the portfolio's owner; who acts is the global `relance --user`,
# RELANCE_USER or the OS user.
CollectorOption = Annotated[str | None, typer.Option(
    "--user", help=_("The user whose portfolio receives the debtors (a name of [users]); "
                     "who acts is `relance --user NAME portfolio ...`."))]


@portfolio_app.command("assign", help=_(
    "Put debtors in a user's portfolio: those named, or every debtor of a creditor or a "
    "segment. Their queue and call list open on it."))
def assign(
    ctx: typer.Context,
    collector: CollectorOption = None,
    nobody: Annotated[bool, typer.Option(
        "--nobody", help=_("Take the debtors out of any portfolio instead."))] = False,
    debtors: Annotated[list[str] | None, typer.Option(
        "--debtor", help=_("A debtor's reference (repeatable)."))] = None,
    creditor: Annotated[str | None, typer.Option(
        "--creditor", help=_("Every debtor of this creditor (or the creditor of the "
                             "references given)."))] = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", help=_("Every debtor of this segment."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import portfolios

    context, actor = open_desk_as_actor(ctx, None, json_output)
    if nobody == (collector is not None):
        raise UsageError(_("give --user NAME, or --nobody"))
    if debtors and segment is not None:
        raise UsageError(_("name debtors with --debtor, or give --segment, not both"))
    with context.store.write_transaction() as session:
        creditor_id = creditor_id_as(session, actor, creditor) if creditor else None
        named = [find_debtor_as(session, actor, ref, creditor_code=creditor).id
                 for ref in debtors or []]
        chosen = portfolios.select_debtors(
            session, actor, debtor_ids=named, creditor_id=None if named else creditor_id,
            segment=segment)
        changed = portfolios.assign(session, actor, policy_of(context), collector, chosen)
        who = policy_of(context).actor(collector).name if collector else None
        size = portfolios.portfolio_size(session, who, actor) if who else 0
    count = dict(count=show_count(changed), chosen=show_count(len(chosen)))
    if who is None:
        line = ngettext("{count} debtor taken out of any portfolio ({chosen} chosen).",
                        "{count} debtors taken out of any portfolio ({chosen} chosen).",
                        changed).format(**count)
    else:
        line = ngettext("{count} debtor put in the portfolio of {user} ({chosen} chosen); it "
                        "now holds {size}.",
                        "{count} debtors put in the portfolio of {user} ({chosen} chosen); "
                        "it now holds {size}.", changed).format(
            user=who, size=show_count(size), **count)
    emit_or_say(context, {"collector": who, "chosen": len(chosen), "changed": changed,
                          "portfolio_size": size if who else None}, [line])


@portfolio_app.command("show", help=_(
    "A user's portfolio (default: yours), or with --all every debtor that has a "
    "collector. Changes nothing."))
def show(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(
        "--user", help=_("Whose portfolio (default: who you are)."))] = None,
    everyone: Annotated[bool, typer.Option(
        "--all", help=_("Every debtor that has a collector, with its collector."))] = False,
    json_output: JsonOption = False,
) -> None:
    from relance.engine import portfolios

    context = open_desk(ctx, None, json_output)
    reader = reader_of(context)
    # Whose portfolio is named is checked as a user; what is listed is what the reader,
    # who may be someone else, may see.
    whose = None if everyone else policy_of(context).actor(user or reader.name).name
    with context.store.session() as session:
        lines = portfolios.portfolio(session, whose, reader)
    if context.json_output:
        context.emit_json([{"creditor": line.creditor, "debtor_ref": line.ref,
                            "debtor_name": line.name, "segment": line.segment,
                            "collector": line.collector} for line in lines])
        return
    if not lines:
        say(context, _("No debtor has a collector.") if whose is None else
            _("{user} has no portfolio: their queue and call list show every debtor they "
              "may see.").format(user=whose))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title in (_("creditor"), _("debtor"), _("segment"), _("collector")):
        table.add_column(title)
    for line in lines:
        add_row(table, line.creditor, debtor_cell(line.ref, line.name), line.segment,
                line.collector or "")
    print_table(context.console, table)
    say(context, (ngettext("{count} debtor in the portfolio of {user}.",
                           "{count} debtors in the portfolio of {user}.", len(lines))
                  if whose else
                  ngettext("{count} debtor with a collector.",
                           "{count} debtors with a collector.", len(lines))).format(
        count=show_count(len(lines)), user=whose))


def register(app: typer.Typer) -> None:
    app.add_typer(portfolio_app, name="portfolio")
