"""`relance audit`: an action's story, and the audit log's own checks.

    relance audit ACTION            (short for `relance audit show ACTION`)
    relance audit verify [--known-head HASH]
    relance audit export (--debtor REF | --from DAY --until DAY) [--creditor CODE] -o FILE
    relance audit check FILE
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from typer._click import Context as ClickContext
from typer.core import TyperGroup

from relance.command_index import command_help
from relance.commands.case_support import (
    check_action_visible,
    creditor_id_as,
    find_debtor_as,
    reader_of,
    refuse_limited,
    say,
)
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.commands.progress import progress
from relance.context import AppContext
from relance.kernel.display import show_count, show_datetime
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext

DEFAULT_KEY_FILE = Path(".relance") / "audit.key"


class AuditGroup(TyperGroup):
    """`relance audit 12` reads as `relance audit show 12`: the short form the desk, the
    docs and people's habits use, beside the verbs of the log itself."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        if first is not None and first[:1].isdigit():
            args = ["show", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=AuditGroup, no_args_is_help=True, help=command_help("audit"))


def _key_path(context: AppContext) -> Path:
    configured = context.workspace.settings.audit.signing_key_file
    return context.workspace.root / (Path(configured).expanduser() if configured
                                     else DEFAULT_KEY_FILE)


def _events(count: int) -> str:
    return ngettext("{count} event", "{count} events", count).format(count=show_count(count))


@audit_app.command("show", help=_("An action's story: the rule text that fired, the "
                                  "rules version, the facts, approvals and events."))
def show(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help=_("The action's number."))],
    json_output: JsonOption = False,
) -> None:
    from relance.engine.auditview import audit_action

    context = json_wanted(ctx, json_output)
    check_action_visible(context, reader_of(context), action_id)
    with context.store.transaction() as session:
        report = audit_action(session, action_id)
    if context.json_output:
        context.emit_json(report.data)
    else:
        typer.echo(report.render())


@audit_app.command("verify", help=_("Recompute the whole chain of the audit log; name "
                                    "the first broken link (exit 1)."))
def verify(
    ctx: typer.Context,
    known_head: Annotated[str | None, typer.Option(
        "--known-head", help=_("A head hash noted earlier (by verify or an export): fail "
                               "unless that entry is still in the log."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.audit_verify import verify_log

    context = json_wanted(ctx, json_output)
    refuse_limited(context, _("a verification of the audit log"))
    with context.store.transaction() as session, \
            progress(_("Verifying the audit log")) as steps:
        report = verify_log(session, known_head=known_head, progress=steps)
    if context.json_output:
        context.emit_json(report.to_json())
    elif report.broken is not None:
        link = report.broken
        say(context, _("The audit log is broken at event {id} ({at}, {kind}, {subject}): "
                       "{problem}.").format(
            id=link.event_id, at=show_datetime(link.at.astimezone()), kind=link.kind,
            subject=f"{link.subject_type} {link.subject_id}", problem=link.problem))
        if report.checked:
            say(context, ngettext("{count} event before it holds.",
                                  "{count} events before it hold.", report.checked)
                .format(count=show_count(report.checked)))
    elif report.lost_head is not None:
        say(context, _("The chain holds over {events}, but no entry carries the head hash "
                       "{hash} noted earlier: entries were removed from the end of the log, "
                       "or the hash is another log's.").format(
            events=_events(report.checked), hash=report.lost_head))
    else:
        say(context, _("OK: the chain holds over {events}; head {hash}.").format(
            events=_events(report.checked), hash=report.head_hash))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export", help=_("Write the events of one debtor or one period to a "
                                    "signed JSON Lines file."))
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help=_(
        "The file to write (JSON Lines), replaced if it exists."))],
    debtor: Annotated[str | None, typer.Option(
        "--debtor", help=_("The debtor's reference: every event of that debtor."))] = None,
    first: Annotated[str | None, typer.Option(
        "--from", help=_("The first day of the period (YYYY-MM-DD or DD/MM/YYYY)."))] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help=_("The last day of the period, included."))] = None,
    creditor: Annotated[str | None, typer.Option(
        "--creditor", help=_("Only this creditor's events (its code)."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.engine.audit_export import Selection, export_trail, key_for_signing
    from relance.engine.scope import creditor_ids
    from relance.store import audit as event_log

    context = json_wanted(ctx, json_output)
    if debtor is None and first is None and until is None:
        raise UsageError(_("name what to export: a debtor (--debtor REF) or a period "
                           "(--from DAY --until DAY)"))
    first_day = parse_day(first, "--from") if first else None
    last_day = parse_day(until, "--until") if until else None
    if first_day and last_day and last_day < first_day:
        raise UsageError(_("--until {until} is before --from {first}").format(
            until=until, first=first))
    reader = reader_of(context)
    zone = context.workspace.settings.run.timezone
    with context.store.transaction() as session:
        creditor_id = creditor_id_as(session, reader, creditor) if creditor else None
        found = find_debtor_as(session, reader, debtor, creditor_code=creditor) \
            if debtor else None
        selection = Selection(
            debtor_id=found.id if found else None, debtor_ref=debtor,
            creditor_id=creditor_id, creditor_code=creditor, first=first_day, last=last_day,
            timezone=ZoneInfo(zone) if zone else dt.UTC,
            visible=creditor_ids(session, reader))
        key = key_for_signing(_key_path(context))
        summary = export_trail(session, selection, output, key, exported_by=context.user)
        # Taking a trail out of the workspace is itself part of the trail.
        event_log.record(session, actor=context.user, kind="audit.exported",
                         subject_type="export", subject_id=output.name[:80],
                         data={**selection.to_json(), "events": summary.events,
                               "chain_head": summary.head_hash, "key_id": summary.key_id},
                         creditor_id=creditor_id, debtor_id=found.id if found else None)
    if context.json_output:
        context.emit_json({"file": str(summary.path), "events": summary.events,
                           "chain_head": summary.head_hash, "key_id": summary.key_id})
        return
    say(context, _("Exported {events} to {path}, signed with key {key}; the log's head "
                   "was {hash}.").format(events=_events(summary.events), path=summary.path,
                                         key=summary.key_id, hash=summary.head_hash))


@audit_app.command("check", help=_("Check an exported audit trail: its signature with "
                                   "this workspace's key, and each event's hash."))
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The exported JSON Lines file."))],
    json_output: JsonOption = False,
) -> None:
    from relance.engine.audit_export import check_export, read_key

    context = json_wanted(ctx, json_output)
    report = check_export(file, read_key(_key_path(context)))
    if context.json_output:
        context.emit_json(report.to_json())
    elif report.ok:
        header = report.header
        say(context, _("{path}: signature good (key {key}); {events}, each matching its hash. "
                       "Exported {at} by {who}; the log's head was then {hash}.").format(
            path=file, key=report.signed_by, events=_events(report.events),
            at=show_datetime(dt.datetime.fromisoformat(header["exported_at"]).astimezone()),
            who=header.get("exported_by", "?"),
            hash=header.get("chain_head", {}).get("hash", "?")))
    else:
        for line, problem in report.problems:
            say(context, f"{file}:{line}: {problem}")
        say(context, ngettext("{path}: {count} problem: do not rely on this file.",
                              "{path}: {count} problems: do not rely on this file.",
                              len(report.problems)).format(
            path=file, count=show_count(len(report.problems))))
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
