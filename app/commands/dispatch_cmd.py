"""`relance dispatch` (send what is approved), `relance preview ACTION_ID` (render one
action into the outbox without sending), and `relance outcome` for uncertain sends."""

from __future__ import annotations

from typing import Annotated

import typer

from relance.commands.options import parse_day
from relance.context import AppContext
from relance.errors import UsageError

CHANNEL_HELP = "Only this channel: letter, email, sms or notify (repeatable)."


def dispatch_command(
    ctx: typer.Context,
    channel: Annotated[list[str] | None, typer.Option("--channel", help=CHANNEL_HELP)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Render into outbox/dry-run/ and change nothing.")] = False,
    on: Annotated[str | None, typer.Option(
        "--on", help="The day to dispatch as (YYYY-MM-DD; default today).")] = None,
) -> None:
    """Send the approved letters, e-mails, SMS and internal alerts."""
    from relance.channels.dispatch import dispatch

    context: AppContext = ctx.obj
    report = dispatch(context.store, context.workspace, today=parse_day(on),
                      channels=set(channel) if channel else None, dry_run=dry_run,
                      progress=not context.json_output)
    if context.json_output:
        context.emit_json(report.to_json())
    else:
        console = context.console
        verb = "rendered (dry run)" if dry_run else "sent"
        count = report.rendered if dry_run else report.sent
        console.print(f"{count} action(s) {verb}; {report.retry} to retry, "
                      f"{report.failed} failed, {report.uncertain} uncertain, "
                      f"{report.cancelled} cancelled ({report.dropped} invoice(s) dropped).")
        if report.recovered_uncertain:
            console.print(f"[yellow]{report.recovered_uncertain} action(s) were in flight when "
                          "a dispatcher stopped: marked uncertain; confirm or resend them "
                          "(relance outcome ACTION_ID sent|resend).[/]")
        if report.paths:
            console.print(f"Files in {report.outbox}")
        if report.batch:
            console.print(f"Print batch for the mail house: {report.batch}")
        for error in report.errors:
            console.print(f"[red]{error}[/]")
    if report.failed:
        raise typer.Exit(1)


def preview_command(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action to render.")],
    on: Annotated[str | None, typer.Option("--on", help="As of this day (YYYY-MM-DD).")] = None,
) -> None:
    """Render one action into outbox/preview/ without sending it."""
    from relance.channels.dispatch import render_preview

    context: AppContext = ctx.obj
    preview = render_preview(context.store, context.workspace, action_id, parse_day(on))
    if context.json_output:
        context.emit_json({"text": preview.text, "subject": preview.subject,
                           "pdf": str(preview.pdf_path) if preview.pdf_path else None,
                           "eml": str(preview.eml) if preview.eml else None,
                           "error": preview.error})
    else:
        if preview.error:
            raise UsageError(f"action {action_id} cannot be rendered: {preview.error}",
                             exit_code=1)
        if preview.subject:
            typer.echo(f"Subject: {preview.subject}\n")
        typer.echo(preview.text)
        for path in (preview.pdf_path, preview.eml):
            if path:
                typer.echo(f"wrote {path}")


def outcome_command(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="An uncertain (or failed) action.")],
    decision: Annotated[str, typer.Argument(help="sent: it did go out; resend: send again.")],
) -> None:
    """Settle an uncertain send: confirm it went out, or send it again."""
    from relance.channels.dispatch import confirm_sent, resend

    context: AppContext = ctx.obj
    if decision == "sent":
        confirm_sent(context.store, action_id, context.user)
    elif decision == "resend":
        resend(context.store, action_id, context.user)
    else:
        raise UsageError(f"decision must be 'sent' or 'resend', not {decision!r}")
    if context.json_output:
        context.emit_json({"action": action_id, "decision": decision})
    else:
        context.console.print(f"Action {action_id}: {decision}.")


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch_command)
    app.command("preview")(preview_command)
    app.command("outcome")(outcome_command)
