"""`relance dispatch` (send what is approved), `relance preview ACTION_ID` (render one
action into the outbox without sending), and `relance outcome` for uncertain sends (also
`relance confirm` / `relance resend`, in `uncertain_cmd`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from relance.command_index import command_help
from relance.commands.case_support import (
    actor_of,
    check_action_visible,
    limited_user,
    reader_of,
    visible_actions,
)
from relance.commands.options import JsonOption, json_wanted, parse_day
from relance.commands.progress import progress
from relance.kernel.display import show_count
from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from relance.channels.claims import DispatchReport

# What a person does about each kind of action a dispatch leaves behind.
ADVICE = {
    "failed": (N_("Failed, not retried ({count}):"),
               N_("Fix the cause (template, address, settings), then `relance resend ACTION` "
                  "puts it back in the queue.")),
    "uncertain": (N_("Uncertain, may have gone out ({count}):"),
                  N_("Check with the server, the gateway or the mail house: `relance "
                     "uncertain` lists what is known; `relance confirm ACTION` if it went "
                     "out, `relance resend ACTION` to send it again.")),
    "retry_wait": (N_("Waiting to retry ({count}):"),
                   N_("Temporary failures: the next `relance dispatch` after the time shown "
                      "tries again (`relance serve` does it by itself).")),
}


def dispatch_command(
    ctx: typer.Context,
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help=_("Only this channel: letter, email, sms or notify (repeatable)."))
    ] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help=_("Render into outbox/dry-run/ and change nothing."))] = False,
    on: Annotated[str | None, typer.Option(
        "--on", help=_("The day to dispatch as (YYYY-MM-DD; default today)."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.channels.dispatch import dispatch

    context = json_wanted(ctx, json_output)
    try:
        with progress(_("Dispatching")) as steps:
            def rendering(done: int, total: int) -> None:
                if done == 1:
                    steps.step(_("Rendering the letters"), total)
                steps(done, total)

            report = dispatch(context.store, context.workspace, today=parse_day(on),
                              channels=set(channel) if channel else None, dry_run=dry_run,
                              progress=rendering if steps.shown else False)
    except RelanceError:
        raise
    except Exception as exc:  # a database gone, a full disk: a sentence, not a traceback
        raise RelanceError(_(
            "dispatch stopped: {kind}: {problem}. What it had claimed and not started is "
            "back in the queue; run it again when the cause is fixed (`relance uncertain` "
            "lists any send left in doubt).").format(kind=exc.__class__.__name__,
                                                     problem=exc)) from exc
    limited = limited_user(context)
    if limited is not None:
        # The dispatch sends for every creditor (the workspace's own work); a user who
        # sees only some is told of the problems of theirs only.
        shown = visible_actions(context, limited, [p["action"] for p in report.problems])
        report.problems = [p for p in report.problems if p["action"] in shown]
    if context.json_output:
        context.emit_json(report.to_json())
    else:
        print_report(context.console, report)
    if report.problems or any(report.left.values()):
        raise typer.Exit(1)


def _counts_sentence(report: DispatchReport) -> str:
    left = report.left
    count = report.rendered if report.dry_run else report.sent
    done = (ngettext("{count} action rendered (dry run)", "{count} actions rendered (dry run)",
                     count) if report.dry_run else
            ngettext("{count} action sent", "{count} actions sent", count)
            ).format(count=show_count(count))
    dropped = ngettext("{count} invoice dropped", "{count} invoices dropped",
                       report.dropped).format(count=show_count(report.dropped))
    return _("{done}; {failed} failed, {uncertain} uncertain, {retry} waiting to retry; "
             "{cancelled} cancelled ({dropped}).").format(
        done=done, failed=show_count(left["failed"]), uncertain=show_count(left["uncertain"]),
        retry=show_count(left["retry_wait"]), cancelled=show_count(report.cancelled),
        dropped=dropped)


def print_report(console: Console, report: DispatchReport) -> None:
    """The dispatch report in words; names and reasons come from users and servers, so
    they are escaped, never read as markup, and never wrapped (scripts grep them)."""
    left = report.left
    console.print(escape(_counts_sentence(report)), soft_wrap=True)
    if report.recovered_sent:
        console.print(escape(ngettext(
            "{count} letter left in flight by a stopped dispatcher was found in its print "
            "batch: recorded as sent.",
            "{count} letters left in flight by a stopped dispatcher were found in their "
            "print batch: recorded as sent.", report.recovered_sent).format(
                count=show_count(report.recovered_sent))), soft_wrap=True)
    if report.voided_approvals:
        console.print("[yellow]" + escape(ngettext(
            "{count} approval voided: the content changed since; approve again (relance "
            "queue --state proposed).",
            "{count} approvals voided: the content changed since; approve again (relance "
            "queue --state proposed).", report.voided_approvals).format(
                count=show_count(report.voided_approvals))) + "[/]", soft_wrap=True)
    if report.paths:
        console.print(escape(_("Files in {folder}").format(folder=report.outbox or "")),
                      soft_wrap=True)
    for batch in report.batches:
        console.print(escape(_("Print batch for the mail house: {file}").format(file=batch)),
                      soft_wrap=True)
    for state, (title, advice) in ADVICE.items():
        problems = [p for p in report.problems if p["state"] == state]
        if not problems:
            continue
        if report.dry_run:
            title, advice = N_("Would fail ({count}):"), N_("Fix the cause before dispatching.")
        colour = "yellow" if state == "retry_wait" else "red"
        heading = _(title).format(count=show_count(len(problems)))
        console.print(f"[bold {colour}]{escape(heading)}[/]")
        for entry in problems:
            debtor = (f"{entry['debtor']} ({entry['debtor_name']})" if entry["debtor_name"]
                      else entry["debtor"])
            said = dict(action=entry["action"], channel=entry["channel"], debtor=debtor,
                        reason=entry["reason"], moment=entry.get("next_attempt_at"))
            line = (_("  action {action}, {channel} to {debtor}: {reason} (next attempt "
                      "{moment} UTC)") if said["moment"] else
                    _("  action {action}, {channel} to {debtor}: {reason}")).format(**said)
            console.print(f"[{colour}]{escape(line)}[/]", soft_wrap=True)
        console.print(f"  {escape(_(advice))}", soft_wrap=True)
    earlier = report.outstanding_uncertain - left["uncertain"]
    if earlier > 0:
        console.print(escape(ngettext(
            "{count} uncertain send from earlier dispatches still awaits a decision: "
            "`relance uncertain`.",
            "{count} uncertain sends from earlier dispatches still await a decision: "
            "`relance uncertain`.", earlier).format(count=show_count(earlier))),
            soft_wrap=True)


def preview_command(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help=_("The action to render."))],
    on: Annotated[str | None, typer.Option(
        "--on", help=_("As of this day (YYYY-MM-DD)."))] = None,
    json_output: JsonOption = False,
) -> None:
    from relance.channels.preview import render_preview

    context = json_wanted(ctx, json_output)
    check_action_visible(context, reader_of(context), action_id)
    preview = render_preview(context.store, context.workspace, action_id, parse_day(on))
    if context.json_output:
        context.emit_json({"text": preview.text, "subject": preview.subject,
                           "pdf": str(preview.pdf_path) if preview.pdf_path else None,
                           "eml": str(preview.eml) if preview.eml else None,
                           "error": preview.error})
    else:
        if preview.error:
            raise UsageError(_("action {id} cannot be rendered: {problem}").format(
                id=action_id, problem=preview.error), exit_code=1)
        if preview.subject:
            typer.echo(_("Subject: {subject}").format(subject=preview.subject) + "\n")
        typer.echo(preview.text)
        for path in (preview.pdf_path, preview.eml):
            if path:
                typer.echo(_("wrote {path}").format(path=path))


def outcome_command(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help=_("An uncertain (or failed) action."))],
    decision: Annotated[str, typer.Argument(
        help=_("sent: it did go out; resend: send again."))],
    json_output: JsonOption = False,
) -> None:
    from relance.channels.in_doubt import confirm_sent, resend

    context = json_wanted(ctx, json_output)
    check_action_visible(context, actor_of(context), action_id)
    if decision == "sent":
        confirm_sent(context.store, action_id, context.user)
    elif decision == "resend":
        resend(context.store, action_id, context.user)
    else:
        raise UsageError(_("decision must be 'sent' or 'resend', not {decision!r}").format(
            decision=decision))
    if context.json_output:
        context.emit_json({"action": action_id, "decision": decision})
    elif decision == "sent":
        context.console.print(_("Action {id}: confirmed sent.").format(id=action_id))
    else:
        context.console.print(_("Action {id}: back in the queue, to send again.").format(
            id=action_id))


def register(app: typer.Typer) -> None:
    app.command("dispatch", help=command_help("dispatch"))(dispatch_command)
    app.command("preview", help=command_help("preview"))(preview_command)
    app.command("outcome", help=command_help("outcome"))(outcome_command)

