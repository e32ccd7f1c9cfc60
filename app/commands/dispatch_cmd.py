"""`relance dispatch` (send what is approved), `relance preview ACTION_ID` (render one
action into the outbox without sending), and `relance outcome` for uncertain sends (also
`relance confirm` / `relance resend`, in `uncertain_cmd`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from relance.commands.options import parse_day
from relance.context import AppContext
from relance.kernel.errors import RelanceError, UsageError

if TYPE_CHECKING:
    from relance.channels.claims import DispatchReport

CHANNEL_HELP = "Only this channel: letter, email, sms or notify (repeatable)."


JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]

# What a person does about each kind of action a dispatch leaves behind.
ADVICE = {
    "failed": ("Failed, not retried",
               "Fix the cause (template, address, settings), then `relance resend ACTION` "
               "puts it back in the queue."),
    "uncertain": ("Uncertain, may have gone out",
                  "Check with the server, the gateway or the mail house: `relance uncertain` "
                  "lists what is known; `relance confirm ACTION` if it went out, "
                  "`relance resend ACTION` to send it again."),
    "retry_wait": ("Waiting to retry",
                   "Temporary failures: the next `relance dispatch` after the time shown "
                   "tries again (`relance serve` does it by itself)."),
}


def dispatch_command(
    ctx: typer.Context,
    channel: Annotated[list[str] | None, typer.Option("--channel", help=CHANNEL_HELP)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Render into outbox/dry-run/ and change nothing.")] = False,
    on: Annotated[str | None, typer.Option(
        "--on", help="The day to dispatch as (YYYY-MM-DD; default today).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Send the approved letters, e-mails, SMS and internal alerts.

    Exits 1 when actions are left failed, uncertain or waiting to retry (a dry run: when
    some would fail), saying how many and what to do."""
    from relance.channels.dispatch import dispatch

    context: AppContext = ctx.obj
    as_json = json_output or context.json_output
    try:
        report = dispatch(context.store, context.workspace, today=parse_day(on),
                          channels=set(channel) if channel else None, dry_run=dry_run,
                          progress=not as_json)
    except RelanceError:
        raise
    except Exception as exc:  # a database gone, a full disk: a sentence, not a traceback
        raise RelanceError(
            f"dispatch stopped: {exc.__class__.__name__}: {exc}. What it had claimed and "
            "not started is back in the queue; run it again when the cause is fixed "
            "(`relance uncertain` lists any send left in doubt).") from exc
    if as_json:
        context.emit_json(report.to_json())
    else:
        print_report(context.console, report)
    if report.problems or any(report.left.values()):
        raise typer.Exit(1)


def print_report(console: Console, report: DispatchReport) -> None:
    """The dispatch report in words; names and reasons come from users and servers, so
    they are escaped, never read as markup, and never wrapped (scripts grep them)."""
    left = report.left
    verb = "rendered (dry run)" if report.dry_run else "sent"
    count = report.rendered if report.dry_run else report.sent
    console.print(f"{count} action(s) {verb}; {left['failed']} failed, {left['uncertain']} "
                  f"uncertain, {left['retry_wait']} waiting to retry; {report.cancelled} "
                  f"cancelled ({report.dropped} invoice(s) dropped).", soft_wrap=True)
    if report.recovered_sent:
        console.print(f"{report.recovered_sent} letter(s) left in flight by a stopped "
                      "dispatcher were found in their print batch: recorded as sent.",
                      soft_wrap=True)
    if report.voided_approvals:
        console.print(f"[yellow]{report.voided_approvals} approval(s) voided: the content "
                      "changed since; approve again (relance queue --state proposed).[/]",
                      soft_wrap=True)
    if report.paths:
        console.print(f"Files in {escape(report.outbox or '')}", soft_wrap=True)
    for batch in report.batches:
        console.print(f"Print batch for the mail house: {escape(batch)}", soft_wrap=True)
    for state, (title, advice) in ADVICE.items():
        problems = [p for p in report.problems if p["state"] == state]
        if not problems:
            continue
        if report.dry_run:
            title, advice = "Would fail", "Fix the cause before dispatching."
        colour = "yellow" if state == "retry_wait" else "red"
        console.print(f"[bold {colour}]{title} ({len(problems)}):[/]")
        for entry in problems:
            name = f" ({entry['debtor_name']})" if entry["debtor_name"] else ""
            when = (f" (next attempt {entry['next_attempt_at']} UTC)"
                    if entry.get("next_attempt_at") else "")
            console.print(f"[{colour}]  action {entry['action']}, {entry['channel']} to "
                          f"{escape(entry['debtor'] + name)}: "
                          f"{escape(entry['reason'])}{when}[/]", soft_wrap=True)
        console.print(f"  {escape(advice)}", soft_wrap=True)
    earlier = report.outstanding_uncertain - left["uncertain"]
    if earlier > 0:
        console.print(f"{earlier} uncertain send(s) from earlier dispatches still await a "
                      "decision: `relance uncertain`.", soft_wrap=True)


def preview_command(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action to render.")],
    on: Annotated[str | None, typer.Option("--on", help="As of this day (YYYY-MM-DD).")] = None,
) -> None:
    """Render one action into outbox/preview/ without sending it."""
    from relance.channels.preview import render_preview

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
    from relance.channels.claims import confirm_sent, resend

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
