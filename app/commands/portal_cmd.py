"""`relance portal-link NAME`: a one-time sign-in link to the web portal for a person of
`[users]`, printed rather than e-mailed: for the first set-up, before `[smtp]` is in
place, or for a person whose e-mails do not arrive. Only a credit manager may issue one
(it opens a session in someone else's name), and one limited to some creditors only for
a person limited to those."""

from __future__ import annotations

from typing import Annotated

import typer

from relance.command_index import command_help
from relance.commands.case_support import UserOption, actor_of, open_desk, say
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import _, ngettext


def portal_link(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        metavar="NAME", help=_("The person, by their name in the users table of relance.toml."))],
    user: UserOption = None,
) -> None:
    from relance.engine.portal_sign_in import SIGN_IN_MINUTES, issue_sign_in
    from relance.engine.roles import NotAllowed, require_credit_manager, workspace_policy
    from relance.store.models import utcnow
    from relance.web.portal_sign_in import sign_in_url

    context = open_desk(ctx, user, False)
    workspace = context.workspace
    policy = workspace_policy(workspace)
    if policy.open:
        raise UsageError(_("the web portal needs its people listed in [users] of {label}")
                         .format(label=workspace.config_label))
    actor = actor_of(context)
    require_credit_manager(actor, _("issue a sign-in link to the portal"))
    person = policy.person(name)
    # The link opens the person's portal to whoever holds it: a credit manager limited
    # to some creditors issues links only to people who see no other creditor.
    if actor.creditors is not None and (
            person.creditors is None or not person.creditors <= actor.creditors):
        raise NotAllowed(_("{user} sees only some creditors: {name} sees others, ask a "
                           "credit manager who sees them all").format(
            user=actor.name, name=person.name))
    base_url = workspace.settings.web.base_url
    if not base_url:
        raise ConfigError(_("a sign-in link needs [web] base_url in {label}").format(
            label=workspace.config_label))
    with context.store.transaction() as session:
        token = issue_sign_in(session, person.name, utcnow())
    say(context, ngettext(
        "Sign-in link for {name}, to open within {count} minute; it works once:",
        "Sign-in link for {name}, to open within {count} minutes; it works once:",
        SIGN_IN_MINUTES).format(name=person.name, count=SIGN_IN_MINUTES))
    typer.echo(sign_in_url(base_url, token))


def register(app: typer.Typer) -> None:
    app.command("portal-link", help=command_help("portal-link"))(portal_link)
