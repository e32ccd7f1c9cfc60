"""`relance uncertain`, `relance confirm ACTION`, `relance resend ACTION`: the sends in
doubt, settled from the command line as the TUI's dashboard settles them.

An uncertain send may have gone out (the connection was lost after the message was
handed over, or a dispatcher stopped in the middle): relance never resends it by itself.
A person checks with the SMTP server's log, the SMS gateway or the mail house, then
confirms it (it stays `sent`) or resends it (back to `approved`, for the next dispatch).
The core functions are `relance.channels.in_doubt.confirm_sent` and `resend`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from relance.command_index import command_help
from relance.commands.case_support import (
    actor_of,
    check_action_visible,
    reader_of,
    visible_actions,
)
from relance.commands.options import JsonOption
from relance.context import AppContext
from relance.kernel.display import show_count
from relance.kernel.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from relance.store.db import Store

ActionArgument = Annotated[int, typer.Argument(
    help=_("The action's id (`relance uncertain`)."))]

WHAT_TO_DO = N_("Each may have gone out: check with the server's log, the SMS gateway or the "
                "mail house, then `relance confirm ACTION` if it went out, or `relance resend "
                "ACTION` to send it again.")


def _output_text(output: dict[str, Any]) -> str:
    if not output:
        return _("nothing recorded")
    return ", ".join(f"{key}={value}" for key, value in sorted(output.items()))


def print_uncertain(console: Console, rows: list[dict[str, Any]]) -> None:
    """One block per send in doubt; what users and servers wrote is escaped, never read
    as markup, and never wrapped."""
    if not rows:
        console.print(_("No uncertain send: nothing waits for a decision."))
        return
    console.print(escape(ngettext("{count} uncertain send. {advice}",
                                  "{count} uncertain sends. {advice}", len(rows)).format(
        count=show_count(len(rows)), advice=_(WHAT_TO_DO))), soft_wrap=True)
    for row in rows:
        debtor = (f"{row['debtor']} ({row['debtor_name']})" if row["debtor_name"]
                  else row["debtor"])
        console.print(f"[bold]{escape(_('action {id}').format(id=row['action']))}[/]  "
                      + escape(_("{channel} {template} to {debtor}").format(
                          channel=row["channel"], template=row["template"] or "",
                          debtor=debtor)), soft_wrap=True)
        console.print(escape(_("  claimed by {who} at {moment} (UTC), attempt {attempt}").format(
            who=row["claimed_by"] or _("nobody"),
            moment=row["claimed_at"] or _("an unknown time"), attempt=row["attempts"])),
            soft_wrap=True)
        console.print(escape(_("  last error: {error}").format(
            error=row["last_error"] or _("none"))), soft_wrap=True)
        console.print(escape(_("  output so far: {output}").format(
            output=_output_text(row["output"]))), soft_wrap=True)


def uncertain_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    from relance.channels.in_doubt import uncertain_sends

    context: AppContext = ctx.obj
    rows = uncertain_sends(context.store)
    shown = visible_actions(context, reader_of(context), [row["action"] for row in rows])
    rows = [row for row in rows if row["action"] in shown]
    if json_output or context.json_output:
        context.emit_json({"uncertain": rows})
        return
    print_uncertain(context.console, rows)


def _settle(ctx: typer.Context, action_id: int, json_output: bool, *, what: str,
            decide: Callable[[Store, int, str], None], state: str, sentence: str) -> None:
    """One decision on a send in doubt, by a user the workspace lets write (auditors are
    refused, as in the TUI): `decide` records it, then the new state is said."""
    from relance.engine.roles import require_write

    context: AppContext = ctx.obj
    actor = actor_of(context)
    require_write(actor, what)
    check_action_visible(context, actor, action_id)
    decide(context.store, action_id, actor.name)
    if json_output or context.json_output:
        context.emit_json({"action": action_id, "state": state, "by": actor.name})
        return
    context.console.print(escape(_(sentence).format(id=action_id)))


def confirm_command(ctx: typer.Context, action_id: ActionArgument,
                    json_output: JsonOption = False) -> None:
    from relance.channels.in_doubt import confirm_sent

    _settle(ctx, action_id, json_output, what=_("confirm a send"), decide=confirm_sent,
            state="sent", sentence=N_("Action {id} confirmed sent: it will not be sent again."))


def resend_command(ctx: typer.Context, action_id: ActionArgument,
                   json_output: JsonOption = False) -> None:
    from relance.channels.in_doubt import resend

    _settle(ctx, action_id, json_output, what=_("resend a send"), decide=resend,
            state="approved", sentence=N_("Action {id} is back in the queue: the next "
                                          "`relance dispatch` sends it."))


def register(app: typer.Typer) -> None:
    app.command("uncertain", help=command_help("uncertain"))(
        uncertain_command)
    app.command("confirm", help=command_help("confirm"))(confirm_command)
    app.command("resend", help=command_help("resend"))(resend_command)
