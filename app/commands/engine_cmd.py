"""`relance run`, `explain`, `simulate`, `audit` and `test`: the engine from the shell.

Thin commands over `relance.engine`: they read the workspace's rules (refusing to run
when they have errors), call the engine and print a table or, with `--json`, a JSON
document. `relance run` is `relance.engine.workday.run_workspace_day`, as the scheduler's daily
job and the demo are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from relance.commands.options import parse_day
from relance.context import AppContext, add_row
from relance.engine.workday import load_checked_rules, run_workspace_day
from relance.kernel.errors import UsageError

OnOption = Annotated[
    str | None, typer.Option(
        "--on", help="The day to evaluate, YYYY-MM-DD or DD/MM/YYYY (default: today).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON.")]


def run(
    ctx: typer.Context,
    on: OnOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute, queue nothing.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Evaluate the policies as of a day and queue the actions (once per day)."""
    context: AppContext = ctx.obj
    report = run_workspace_day(context.workspace, context.store, parse_day(on),
                               actor=context.user, dry_run=dry_run)
    if json_output or context.json_output:
        context.emit_json(report.to_json())
        return
    console = context.console
    verb = "would queue" if dry_run else "queued"
    console.print(
        f"{report.on.isoformat()}: {verb} {report.actions_created} action(s) for "
        f"{report.items_created} invoice step(s); {report.actions_proposed} await approval"
        + (f" (run {report.run_id})" if report.run_id else "")
    )
    if report.by_rule:
        table = Table("policy", "rule", "channel", "invoices")
        for count in report.by_rule:
            add_row(table, count.policy, count.rule, count.channel, str(count.items))
        console.print(table)
    version = report.ruleset_hash[:12] + (f", git {report.git_commit[:12]}"
                                          if report.git_commit else "")
    console.print(f"rules version {version}")


def explain(
    ctx: typer.Context,
    invoice: Annotated[str, typer.Argument(help="Invoice number (or CREDITOR:NUMBER).")],
    on: OnOption = None,
    json_output: JsonOption = False,
) -> None:
    """Why each rule acts on an invoice or not, with every value read."""
    from relance.engine.explain import explain_invoice, find_invoice

    context: AppContext = ctx.obj
    rules = load_checked_rules(context.workspace, refused="nothing was explained")
    with context.store.transaction() as session:
        conn = session.connection()
        found = explain_invoice(conn, rules.policies, find_invoice(conn, invoice), parse_day(on))
    if json_output or context.json_output:
        context.emit_json(found.to_json())
    else:
        typer.echo(found.render())


def simulate(
    ctx: typer.Context,
    until: Annotated[str, typer.Option(
        "--until", help="Last day to simulate, YYYY-MM-DD or DD/MM/YYYY.")],
    start: Annotated[
        str | None, typer.Option("--from", help="First day (default: today).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """What the rules will queue day by day if nobody pays (writes nothing)."""
    from relance.engine.simulate import simulate as run_simulation

    context: AppContext = ctx.obj
    rules = load_checked_rules(context.workspace, refused="nothing was simulated")
    found = run_simulation(context.store, rules, parse_day(start, "--from"),
                           parse_day(until, "--until"), actor=context.user,
                           auto_approve=context.workspace.settings.run.auto_approve,
                           rules_dir=context.workspace.rules_dir)
    if json_output or context.json_output:
        context.emit_json([action.to_json() for action in found])
        return
    if not found:
        typer.echo("nothing would be queued")
        return
    table = Table("date", "debtor", "action", "state", "invoices", "rules")
    for action in found:
        what = action.line().split(" ", 2)[2].split(",")[0]
        add_row(table, action.on.isoformat(), action.debtor, what, action.state,
                " ".join(action.invoices), " ".join(action.rules))
    context.console.print(table)


def audit(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action's number.")],
    json_output: JsonOption = False,
) -> None:
    """An action's story: the rule text that fired, the facts, approvals and events."""
    from relance.engine.auditview import audit_action

    context: AppContext = ctx.obj
    with context.store.transaction() as session:
        report = audit_action(session, action_id)
    if json_output or context.json_output:
        context.emit_json(report.data)
    else:
        typer.echo(report.render())


def test(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Rule-test files or folders (default: the rules folder)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Run the rule tests (`*.rules.test`): given a book and dates, the expected actions."""
    from relance.engine.ruletests import run_file, test_files

    context: AppContext = ctx.obj
    files = test_files(list(paths) if paths else [context.workspace.rules_dir])
    if not files:
        raise UsageError("no rule tests found (files named *.rules.test)")
    results = [result for path in files for result in run_file(path)]
    failed = [result for result in results if not result.passed]
    if json_output or context.json_output:
        context.emit_json({"passed": len(results) - len(failed), "failed": len(failed),
                           "cases": [result.to_json() for result in results]})
    else:
        for result in results:
            typer.echo(f"{'PASS' if result.passed else 'FAIL'} {result.file}: {result.name}")
            if not result.passed:
                typer.echo("\n".join(f"    {line}" for line in result.diff().splitlines()))
        typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(explain)
    app.command()(simulate)
    app.command()(audit)
    app.command(name="test")(test)
