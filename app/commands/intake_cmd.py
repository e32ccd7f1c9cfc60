"""`relance intake scan|list`: the intake folders by hand (see docs/intake.md).

`relance serve` makes the same pass every `[intake] every_seconds`; `scan` makes one
now and says what it did, `list` shows the files received and what became of them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from relance.command_index import command_help
from relance.commands.case_support import (
    CreditorOption,
    UserOption,
    creditor_id_as,
    open_desk,
    reader_of,
    refuse_limited,
    say,
)
from relance.commands.options import JsonOption
from relance.context import AppContext, add_row, print_table
from relance.kernel.display import show_count, show_datetime
from relance.kernel.i18n import N_, _

intake_app = typer.Typer(help=command_help("intake"), no_args_is_help=True)

OUTCOME_WORDS = {
    "imported": N_("imported"), "refused": N_("refused"), "duplicate": N_("already received"),
    "recovered": N_("already recorded, move finished"), "held": N_("held"),
}
NOTICE_WORDS = {
    "pending": N_("to send"), "sending": N_("being sent"), "sent": N_("sent"),
    "written": N_("written to the outbox"), "failed": N_("failed"),
    "uncertain": N_("uncertain"),
}
NOTICE_COUNTS = {
    "notices_sent": N_("sent {count}"), "notices_written": N_("written to the outbox {count}"),
    "notices_retry": N_("to retry {count}"), "notices_failed": N_("failed {count}"),
    "notices_uncertain": N_("uncertain {count}"),
    "notices_no_address": N_("waiting for a contact address {count}"),
}


def _file_lines(handled: dict[str, Any]) -> list[str]:
    where = f"{handled['creditor']}/{handled['name']}"
    outcome = _(OUTCOME_WORDS[handled["outcome"]])
    if handled["outcome"] == "imported":
        lines = [_("{file}: {outcome}, {rows} rows, archived as {target}").format(
            file=where, outcome=outcome, rows=show_count(handled["rows"]),
            target=handled["moved_to"])]
    elif handled["outcome"] == "held":
        lines = [_("{file}: {outcome}, left in place").format(file=where, outcome=outcome)]
    else:
        lines = [_("{file}: {outcome}, moved to {target}").format(
            file=where, outcome=outcome, target=handled["moved_to"])]
    return lines + [f"  {problem}" for problem in handled["problems"]]


def _run_line(run: dict[str, Any]) -> str:
    if "deferred_to_schedule" in run:
        return _("The day's run at {time} will take the new invoices in.").format(
            time=run["deferred_to_schedule"])
    return _("The day's run followed: {created} actions queued, {extended} extended.").format(
        created=show_count(int(run.get("actions_created", 0))),
        extended=show_count(int(run.get("actions_extended", 0))))


def _say_pass(context: AppContext, result: dict[str, Any]) -> None:
    # File and folder names are what the creditors wrote: `say` prints them as typed.
    for handled in result["files"]:
        for line in _file_lines(handled):
            say(context, line)
    if result["waiting"]:
        say(context, _("Still being written, left for the next pass: {files}").format(
            files=", ".join(result["waiting"])))
    if result["unknown_folders"]:
        say(context, _("Folders named after no creditor, left alone: {folders}").format(
            folders=", ".join(result["unknown_folders"])))
    if result["stray_files"]:
        say(context, _("Files outside the creditors' folders, left alone: {files}").format(
            files=", ".join(result["stray_files"])))
    if not (result["files"] or result["waiting"]):
        say(context, _("Nothing new in {folder}.").format(folder=result["folder"]))
    if "run" in result:
        say(context, _run_line(result["run"]))
    counts = [_(NOTICE_COUNTS[key]).format(count=show_count(result[key]))
              for key in NOTICE_COUNTS if result.get(key)]
    if counts:
        say(context, _("Refusal e-mails: {counts}.").format(counts=", ".join(counts)))


@intake_app.command("scan", help=_("Look in the intake folders now: import the files "
                                   "dropped, put the refused ones aside and tell their "
                                   "creditors."))
def scan(
    ctx: typer.Context,
    no_run: Annotated[bool, typer.Option(
        "--no-run", help=_("Do not run the day after an import."))] = False,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.scheduler.clock import clock_from_env
    from relance.scheduler.core import engine_run_day
    from relance.scheduler.intake import intake_pass

    context = open_desk(ctx, user, json_output)
    refuse_limited(context, _("an intake scan"))
    workspace, store = context.workspace, context.store
    config = workspace.settings.schedule
    run_day = engine_run_day(store, workspace, actor=context.user)
    result = intake_pass(store, workspace, now=clock_from_env(config.tz).now(),
                         actor=context.user, run_day=run_day, follow=not no_run)
    if context.json_output:
        context.emit_json(result)
    elif "busy" in result:
        say(context, _("Another intake pass is running ({holder}): try again in a "
                       "moment.").format(holder=result["busy"]))
    else:
        _say_pass(context, result)
    if "busy" in result:
        raise typer.Exit(1)


@intake_app.command("list", help=_("The files received in the intake folders, newest "
                                   "first, and what became of them."))
def list_files(
    ctx: typer.Context,
    creditor: CreditorOption = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=1, max=10_000, help=_("How many files to show."))] = 50,
    user: UserOption = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.intake_records import recent_files

    context = open_desk(ctx, user, json_output)
    reader = reader_of(context)
    if creditor is not None:
        # Another creditor's folder is answered as one that does not exist.
        with context.store.transaction() as session:
            creditor_id_as(session, reader, creditor)
    lines = recent_files(context.store, reader, limit=limit, creditor=creditor)
    if context.json_output:
        context.emit_json([line.as_dict() for line in lines])
        return
    if not lines:
        say(context, _("No file received."))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for title, right in ((_("file"), True), (_("received"), False), (_("creditor"), False),
                         (_("name"), False), (_("status"), False), (_("rows"), True),
                         (_("refusal e-mail"), False), (_("kept as"), False)):
        table.add_column(title, justify="right" if right else "left")
    for line in lines:
        add_row(table, str(line.id), show_datetime(line.received_at), line.creditor,
                line.name, _(OUTCOME_WORDS[line.status]) if line.status in OUTCOME_WORDS
                else line.status, show_count(line.rows),
                _(NOTICE_WORDS[line.notice]) if line.notice in NOTICE_WORDS else "",
                line.archived_as or "")
    print_table(context.console, table)


def register(app: typer.Typer) -> None:
    app.add_typer(intake_app, name="intake")
