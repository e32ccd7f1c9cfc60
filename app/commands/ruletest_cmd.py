"""`relance test`: the workspace's rule tests (`*.rules.test`), and with `--coverage`
what they exercised of each rule (`engine.rule_coverage`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.options import JsonOption, json_wanted
from relance.context import AppContext, add_row, print_table, say
from relance.kernel.display import show_count, show_percent
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

if TYPE_CHECKING:
    from relance.engine.rule_coverage import CoverageReport, PolicyCoverage


def test(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help=_("Rule-test files or folders (default: the rules folder).")),
    ] = None,
    coverage: Annotated[bool, typer.Option(
        "--coverage", help=_("Also report, per rule, whether the tests made it act and not "
                             "act, and which of its conditions were never true or never "
                             "false."))] = False,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", metavar="PCT",
        help=_("Exit 1 when fewer than PCT percent of the rules are fully covered "
               "(implies --coverage)."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.rule_coverage import CoverageRecorder
    from relance.engine.ruletests import run_file, test_files

    context: AppContext = json_wanted(ctx, json_output)
    if fail_under is not None and not 0 <= fail_under <= 100:
        raise UsageError(_("--fail-under: give a percentage between 0 and 100, not "
                           "{value}").format(value=fail_under))
    files = test_files(list(paths) if paths else [context.workspace.rules_dir])
    if not files:
        raise UsageError(_("no rule tests found (files named *.rules.test)"))
    recorder = CoverageRecorder() if coverage or fail_under is not None else None
    results = [result for path in files for result in run_file(path, recorder)]
    failed = [result for result in results if not result.passed]
    report = recorder.report() if recorder is not None else None
    too_little = (report is not None and fail_under is not None
                  and report.percent < Decimal(str(fail_under)))
    if context.json_output:
        document = {"passed": len(results) - len(failed), "failed": len(failed),
                    "cases": [result.to_json() for result in results]}
        if report is not None:
            document["coverage"] = report.to_json()
        context.emit_json(document)
    else:
        for result in results:
            typer.echo((_("PASS {file}: {name}") if result.passed else
                        _("FAIL {file}: {name}")).format(file=result.file, name=result.name))
            if not result.passed:
                typer.echo("\n".join(f"    {line}" for line in result.diff().splitlines()))
        typer.echo(_("{passed} passed, {failed} failed").format(
            passed=show_count(len(results) - len(failed)), failed=show_count(len(failed))))
        if report is not None:
            _print_coverage(context, report)
            if too_little:
                say(context.console, _("coverage {percent} is under --fail-under {wanted}")
                    .format(percent=show_percent(report.percent),
                            wanted=show_percent(Decimal(str(fail_under)))))
    if failed or too_little:
        raise typer.Exit(1)


def _yes_no(flag: bool) -> str:
    return _("yes") if flag else _("no")


def _policy_table(policy: PolicyCoverage) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, title_justify="left",
                  title=_("policy {name} ({place})").format(name=policy.name,
                                                            place=policy.place))
    for title in (_("rule"), _("place"), _("acted"), _("not acted"), _("never false"),
                  _("never true")):
        table.add_column(title)
    for rule in policy.rules:
        add_row(table, rule.identity, rule.place, _yes_no(rule.acted), _yes_no(rule.not_acted),
                "\n".join(rule.never_false) or "—", "\n".join(rule.never_true) or "—",
                style=None if rule.covered else "yellow")
    return table


def _print_coverage(context: AppContext, report: CoverageReport) -> None:
    console = context.console
    for policy in report.policies:
        console.print()
        print_table(console, _policy_table(policy))
        scope = policy.to_json()["scope"]
        for key, label in (("never_false", _("scope never false: {conditions}")),
                           ("never_true", _("scope never true: {conditions}"))):
            if scope[key]:
                say(console, "  " + label.format(conditions="; ".join(scope[key])))
    console.print()
    say(console, _("rules fully covered: {covered}/{total} ({percent})").format(
        covered=show_count(report.covered), total=show_count(report.total),
        percent=show_percent(report.percent)))


def register(app: typer.Typer) -> None:
    app.command(name="test", help=command_help("test"))(test)
