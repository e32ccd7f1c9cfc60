"""`relance run`, `explain` and `simulate`: the engine from the shell.

Thin commands over `relance.engine`: they read the workspace's rules (refusing to run
when they have errors), call the engine and print a table or, with `--json`, a JSON
document (`run --json` lists every communication with its items: docs/json-output.md).
`relance run` is `relance.engine.workday.run_workspace_day`, as the scheduler's daily
job and the demo are. `simulate` prints a summary a day per line and kind of action
(`relance.commands.simulate_view`), or every action as CSV or JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import reader_of, refuse_limited
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.commands.progress import progress
from relance.commands.simulate_view import SimulateFormat, show_simulation
from relance.context import AppContext, add_row, print_table, say
from relance.kernel.display import show_count, show_date
from relance.kernel.i18n import _, ngettext

OnOption = Annotated[
    str | None, typer.Option(
        "--on", help=_("The day to evaluate, YYYY-MM-DD or DD/MM/YYYY (default: today)."))
]


def run(
    ctx: typer.Context,
    on: OnOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help=_("Compute, queue nothing."))] = False,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.workday import run_workspace_day

    context = json_wanted(ctx, json_output)
    day = parse_day(on)
    if context.json_output:
        _run_json(context, day, dry_run=dry_run)
        return
    with progress(_("Running the rules as of {day}").format(day=show_date(day))):
        report = run_workspace_day(context.workspace, context.store, day,
                                   actor=context.user, dry_run=dry_run)
    console = context.console
    counted = dict(
        day=show_date(report.on), proposed=show_count(report.actions_proposed),
        actions=ngettext("{count} action", "{count} actions", report.actions_created).format(
            count=show_count(report.actions_created)),
        steps=ngettext("{count} invoice step", "{count} invoice steps", report.items_created
                       ).format(count=show_count(report.items_created)))
    sentence = (_("{day}: would queue {actions} for {steps}; {proposed} await approval")
                if dry_run else
                _("{day}: queued {actions} for {steps}; {proposed} await approval")
                ).format(**counted)
    if report.run_id:
        sentence = _("{sentence} (run {id})").format(sentence=sentence, id=report.run_id)
    say(console, sentence)
    if report.reused_from is not None:
        from relance.engine.run_reuse import reuse_note

        say(console, reuse_note(report) or "")
    if report.scoped_from is not None:
        from relance.engine.run_scope import scope_note

        say(console, scope_note(report) or "")
    if report.by_rule:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for title in (_("policy"), _("rule"), _("channel")):
            table.add_column(title)
        table.add_column(_("invoices"), justify="right")
        for count in report.by_rule:
            add_row(table, count.policy, count.rule, count.channel, show_count(count.items))
        print_table(console, table)
    if report.git_commit:
        version = _("{hash}, git {commit}").format(hash=report.ruleset_hash[:12],
                                                   commit=report.git_commit[:12])
    elif report.rules_state == "dirty":
        version = _("{hash}, uncommitted edits (diff {diff})").format(
            hash=report.ruleset_hash[:12], diff=(report.rules_diff_hash or "")[:12])
    else:
        version = report.ruleset_hash[:12]
    say(console, _("rules version {version}").format(version=version))


def _run_json(context: AppContext, day: dt.date, *, dry_run: bool) -> None:
    """`relance run --json`: the counts and every communication queued (or, for a dry
    run, that would be), with its items (`relance.engine.run_listing`)."""
    from relance.engine.run_listing import ListedCommunication, listing_into, run_document
    from relance.engine.workday import run_workspace_day

    listed: list[ListedCommunication] = []
    with progress(_("Running the rules as of {day}").format(day=show_date(day))):
        report = run_workspace_day(context.workspace, context.store, day, actor=context.user,
                                   dry_run=dry_run, inspect=listing_into(listed))
    context.emit_json(run_document(report, listed))


def explain(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help=_("Invoice number (or CREDITOR:NUMBER)."))],
    on: OnOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.explain import explain_invoice, find_invoice
    from relance.engine.scope import creditor_ids
    from relance.engine.workday import load_checked_rules

    context = json_wanted(ctx, json_output)
    rules = load_checked_rules(context.workspace, refused=_("nothing was explained"))
    reader = reader_of(context)
    with context.store.transaction() as session:
        conn = session.connection()
        invoice_id = find_invoice(conn, invoice, within=creditor_ids(session, reader))
        found = explain_invoice(conn, rules.policies, invoice_id, parse_day(on))
    if context.json_output:
        context.emit_json(found.to_json())
    else:
        typer.echo(found.render())


def simulate(
    ctx: typer.Context,
    until: Annotated[str, typer.Option(
        "--until", help=_("Last day to simulate, YYYY-MM-DD or DD/MM/YYYY."))],
    start: Annotated[
        str | None, typer.Option("--from", help=_("First day (default: today)."))
    ] = None,
    shape: Annotated[SimulateFormat, typer.Option(
        "--format", help=_("table: a summary per day for people; csv: every action, for "
                           "spreadsheets and programs; json: every action (as --json)."))
    ] = SimulateFormat.TABLE,
    replay: Annotated[bool, typer.Option(
        "--replay", help=_("Replay the book as it was from --from (invoices as issued, "
                           "payments on their dates) and compare with what was sent "
                           "(writes nothing)."))] = False,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.simulate import simulate as run_simulation
    from relance.engine.workday import load_checked_rules

    context = json_wanted(ctx, json_output)
    refuse_limited(context, _("a simulation"))
    rules = load_checked_rules(context.workspace, refused=_("nothing was simulated"))
    first, last = parse_day(start, "--from"), parse_day(until, "--until")
    if replay:
        from relance.commands.replay_view import show_replay

        show_replay(context, rules, first, last,
                    SimulateFormat.JSON if context.json_output else shape)
        return
    days = max((last - first).days + 1, 0)
    with progress(_("Simulating"), total=days) as steps:
        found = run_simulation(context.store, rules, first, last, actor=context.user,
                               auto_approve=context.workspace.settings.run.auto_approve,
                               payer=context.workspace.settings.payer,
                               rules_dir=context.workspace.rules_dir, progress=steps)
    show_simulation(context, found, first, last,
                    SimulateFormat.JSON if context.json_output else shape)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("run"))(run)
    app.command(help=command_help("explain"))(
        explain)
    app.command(help=command_help("simulate"))(simulate)
