"""`relance diff [OLD] [NEW]`: what a rule change says and what it would do.

OLD and NEW are rules folders or git revisions of the repository holding the
workspace's rules folder (read with git, nothing checked out); `.` is the rules folder
as it is on disk. `relance diff` alone compares the last commit with the folder: the
change about to be committed. Exit codes: 0 the comparison was made (differences or
not; with `--exit-code`, 1 when the rules or their behaviour differ), 2 a side that
cannot be read or has errors, bad dates or options.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from relance.command_index import command_help
from relance.commands.case_support import refuse_limited
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.commands.progress import progress
from relance.engine.rule_sources import WORKING_FOLDER
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

DEFAULT_DAYS = 60
DEFAULT_LIMIT = 50


class DiffFormat(StrEnum):
    """The shapes `relance diff` prints in (`relance.commands.diff_view` draws them):
    here, so that `relance diff --help` does without the core the drawing imports."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def diff(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help=_(
        "The rules before: a folder, or a git revision (HEAD~1, a branch, a tag)."))] = "HEAD",
    new: Annotated[str, typer.Argument(help=_(
        "The rules after: a folder, a git revision, or . for the rules folder as it is "
        "(default)."))] = WORKING_FOLDER,
    start: Annotated[str | None, typer.Option(
        "--from", help=_("First day simulated (default: today)."))] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help=_("Last day simulated (default: 60 days after the first)."))] = None,
    shape: Annotated[DiffFormat, typer.Option(
        "--format", help=_("table for a terminal, markdown for a merge request, json for "
                           "programs (as --json)."))] = DiffFormat.TABLE,
    limit: Annotated[int, typer.Option(
        "--limit", help=_("At most this many changes per debtor and invoice in a table or "
                          "in Markdown (0: all; JSON has them all)."))] = DEFAULT_LIMIT,
    rules_only: Annotated[bool, typer.Option(
        "--rules-only", help=_("Only the rules' text: no simulation, no database."))] = False,
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help=_("Exit with 1 when the rules or what they would send "
                              "differ (for hooks and CI)."))] = False,
    json_output: JsonOption = False,
) -> None:
    from relance.commands.diff_view import Comparison, show_comparison
    from relance.engine.rule_sources import load_side
    from relance.engine.rulediff import rule_differences

    context = json_wanted(ctx, json_output)
    if not rules_only:
        refuse_limited(context, _("a rule comparison over the book"))
    if limit < 0:
        raise UsageError(_("--limit: {value} is negative (0 shows everything)").format(
            value=limit))
    first = parse_day(start, "--from")
    last = parse_day(until, "--until") if until else first + dt.timedelta(days=DEFAULT_DAYS)
    workspace = context.workspace
    before = load_side(old, workspace.rules_dir, workspace.root)
    after = load_side(new, workspace.rules_dir, workspace.root)
    behaviour = None
    if not rules_only:
        from relance.engine.behaviour_diff import behaviour_diff

        days = max((last - first).days + 1, 0)
        with progress(_("Simulating both rule sets"), total=2 * days) as steps:
            behaviour = behaviour_diff(
                context.store, before.rules, after.rules, first, last, actor=context.user,
                auto_approve=workspace.settings.run.auto_approve,
                payer=workspace.settings.payer, progress=steps)
    comparison = Comparison(before, after,
                            tuple(rule_differences(before.rules.policies,
                                                   after.rules.policies)), behaviour)
    show_comparison(context, comparison, DiffFormat.JSON if context.json_output else shape,
                    limit)
    if exit_code and comparison.differs:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("diff"))(diff)
