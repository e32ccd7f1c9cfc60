"""`relance audit`: an action's story, and the audit log's own checks."""

from __future__ import annotations

from typing import Annotated

import typer

from relance.commands.case_support import check_action_visible, reader_of
from relance.commands.options import JsonOption, json_wanted
from relance.kernel.i18n import _


def audit(
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


def register(app: typer.Typer) -> None:
    app.command(help=_("An action's story: the rule text that fired, the facts, approvals "
                       "and events."))(audit)
