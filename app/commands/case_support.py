"""What the case commands share: who acts, finding debtors and invoices by what a person
types, amounts for JSON, and what a change did to the queue (amounts in sentences are
the kernel's `show_money`, as on the desk).

Nothing here decides anything: the core (`relance.engine.casework`, `plans`, `undo`)
does, in the transaction the command opens; this module only reads and words results.

Every command module imports this one, `relance CMD --help` too: the database layer
and the core are imported inside the functions that use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relance.commands.options import JsonOption as JsonOption
from relance.context import AppContext
from relance.context import say as print_line
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
from relance.kernel.money import decimal_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.engine.roles import Actor, Policy
    from relance.store.models import Action, ActionState, Debtor, Invoice, Payment

UserOption = Annotated[str | None, typer.Option(
    "--user", help=_("Who you are (else the global --user, RELANCE_USER, the OS user)."))]
CreditorOption = Annotated[str | None, typer.Option(
    "--creditor", help=_("Creditor code, when several creditors use the same reference."))]
DebtorFilterOption = Annotated[str | None, typer.Option(
    "--debtor", help=_("Only this debtor (ref)."))]


def open_desk(ctx: typer.Context, user: str | None, json_output: bool) -> AppContext:
    """The command's context, with `--user`/`--json` given after the command name
    taking the place of the global ones (both spellings work, as for `relance tui`)."""
    context: AppContext = ctx.obj
    if user:
        context.user_override = user
    if json_output:
        context.json_output = True
    return context


def actor_of(context: AppContext) -> Actor:
    """The acting user, checked against `[users]` before anything is read or written."""
    from relance.engine.roles import workspace_policy

    return workspace_policy(context.workspace).actor(context.user)


def open_desk_as_actor(ctx: typer.Context, user: str | None,
                       json_output: bool) -> tuple[AppContext, Actor]:
    """`open_desk`, and who acts in it: what every command that changes a case starts
    with, the user refused before anything is read or written."""
    context = open_desk(ctx, user, json_output)
    return context, actor_of(context)


def reader_of(context: AppContext) -> Actor:
    """Who reads, for a command that only reads (a list, a report, an export): the global
    `--user`, else RELANCE_USER, else the OS user, checked against `[users]` as for a
    change, so that what they see is limited to their creditors (engine/scope.py)."""
    return actor_of(context)


def limited_user(context: AppContext) -> Actor | None:
    """The user when `[users]` gives them some creditors only; None for a user who sees
    every creditor, and for an OS user `[users]` does not list (the workspace's own jobs,
    a scheduler or a cron, whose work is not scoped)."""
    from relance.engine.roles import workspace_policy

    policy = workspace_policy(context.workspace)
    name = context.user.strip()
    if policy.desk_open or name not in policy.users:
        return None
    actor = policy.actor(name)
    return actor if actor.creditors is not None else None


def refuse_limited(context: AppContext, what: str) -> None:
    """Refuse a whole-book command (an import, a simulation) to a user who sees only some
    creditors: it reads or changes the others' cases too. `what`, translated by the
    caller, is the command as a noun: `an import`."""
    from relance.engine.roles import NotAllowed

    actor = limited_user(context)
    if actor is not None:
        raise NotAllowed(_("{user} sees only some creditors: {what} covers every creditor "
                           "and is for a user who sees them all").format(
            user=actor.name, what=what))


def policy_of(context: AppContext) -> Policy:
    from relance.engine.roles import workspace_policy

    return workspace_policy(context.workspace)


def say(context: AppContext, text: str) -> None:
    """One sentence on stdout, never wrapped (scripts grep it); names and reasons are
    printed as typed, never read as markup or emoji codes (`relance.context.say`)."""
    print_line(context.console, text)


def major(minor: int, currency: str) -> str:
    """An exact amount in major units, as text, for JSON (`"1234.56"`)."""
    return decimal_text(minor, currency)


def find_invoices(session: Session, numbers: Sequence[str], *,
                  creditor_code: str | None = None,
                  actor: Actor | None = None) -> list[Invoice]:
    """The invoices named, in the order given; the first unknown number is refused, as
    is one of a creditor `actor` may not see."""
    from relance.engine.scope import creditor_ids
    from relance.store.book import find_invoice

    if not numbers:
        raise UsageError(_("name at least one invoice"))
    within = creditor_ids(session, actor)
    return [find_invoice(session, number, creditor_code=creditor_code, within=within)
            for number in numbers]


def find_invoice_as(session: Session, actor: Actor | None, number: str, *,
                    creditor_code: str | None = None) -> Invoice:
    """The invoice with this number among those `actor` may see (others: not found)."""
    from relance.engine.scope import creditor_ids
    from relance.store.book import find_invoice

    return find_invoice(session, number, creditor_code=creditor_code,
                        within=creditor_ids(session, actor))


def find_debtor_as(session: Session, actor: Actor | None, ref: str, *,
                   creditor_code: str | None = None) -> Debtor:
    """The debtor with this reference among those `actor` may see (others: not found)."""
    from relance.engine.scope import creditor_ids
    from relance.store.book import find_debtor

    return find_debtor(session, ref, creditor_code=creditor_code,
                       within=creditor_ids(session, actor))


def creditor_id_as(session: Session, actor: Actor | None, code: str) -> int:
    """The id of the creditor with this code; one `actor` may not see does not exist."""
    from sqlalchemy import select

    from relance.engine.scope import require_visible
    from relance.store.models import Creditor

    found = session.scalar(select(Creditor.id).where(Creditor.code == code))
    missing = _("no creditor {code}").format(code=code)
    if found is None:
        raise NotFound(missing)
    require_visible(session, actor, found, missing)
    return found


def payment_as(session: Session, actor: Actor | None, payment_id: int) -> Payment:
    """The payment with this id, if `actor` may see its creditor (else: not found)."""
    from relance.engine.scope import require_visible
    from relance.store.models import Payment

    found = session.get(Payment, payment_id)
    missing = _("no payment {id}").format(id=payment_id)
    if found is None:
        raise NotFound(missing)
    require_visible(session, actor, found.creditor_id, missing)
    return found


def visible_actions(context: AppContext, actor: Actor | None,
                    action_ids: Sequence[int]) -> set[int]:
    """Of these actions, those of the creditors `actor` may see (all for a user who
    sees every creditor): what a listing of sends keeps."""
    from sqlalchemy import select

    from relance.engine.scope import creditor_ids
    from relance.store.models import Action

    if actor is None or actor.creditors is None or not action_ids:
        return set(action_ids)
    with context.store.session() as session:
        ids = creditor_ids(session, actor) or []
        return set(session.scalars(select(Action.id).where(
            Action.id.in_(list(action_ids)), Action.creditor_id.in_(ids))))


def check_action_visible(context: AppContext, actor: Actor | None, action_id: int) -> None:
    """Refuse, as unknown, an action of a creditor `actor` may not see, before a command
    that takes its id (preview, outcome, confirm, resend, audit) reads or changes it."""
    with context.store.session() as session:
        action_as(session, actor, action_id)


def action_as(session: Session, actor: Actor | None, action_id: int) -> Action:
    """The action with this id, if `actor` may see its creditor (else: not found)."""
    from relance.engine.scope import require_visible
    from relance.store.models import Action

    found = session.get(Action, action_id)
    missing = _("no action {id}").format(id=action_id)
    if found is None:
        raise NotFound(missing)
    require_visible(session, actor, found.creditor_id, missing)
    return found


def creditor_code(session: Session, creditor_id: int) -> str:
    from relance.store.models import Creditor

    creditor = session.get(Creditor, creditor_id)
    assert creditor is not None  # a foreign key
    return creditor.code


def debtor_label(debtor: Debtor) -> str:
    return f"{debtor.name} ({debtor.ref})"


def debtor_cell(ref: str, name: str) -> str:
    """A debtor in a table: the reference whole (scripts and other commands take it),
    the name cut so that a table of amounts still fits a terminal; `--json` has it all."""
    from relance.tui.format import clip

    return f"{ref} {clip(name, 28).rstrip()}"


@dataclass
class QueueEffect:
    """What a change did to the waiting actions it touched, seen from outside the core
    (which settles the queue itself): cancelled, or changed (fewer invoices or new
    amounts), and which of those went back to `proposed` to be approved again."""

    cancelled: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    back_to_proposed: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {"cancelled": self.cancelled, "changed": self.changed,
                "back_to_proposed": self.back_to_proposed}

    def sentence(self) -> str:
        def ids(values: list[int]) -> str:
            return ", ".join(str(v) for v in values)

        parts = []
        if self.cancelled:
            parts.append(_("cancelled {ids}").format(ids=ids(self.cancelled)))
        if self.changed:
            parts.append(_("changed {ids} (now for what is owed)").format(
                ids=ids(self.changed)))
        if self.back_to_proposed:
            parts.append(_("to approve again {ids}").format(ids=ids(self.back_to_proposed)))
        # A list of clauses, each a translated sentence piece with its own ids.
        return _("Queued actions: {changes}.").format(changes="; ".join(parts)) if parts \
            else ""


class QueueWatch:
    """The waiting actions of some debtors before a change, to say afterwards what the
    change's settling of the queue did to them (read in the change's transaction)."""

    def __init__(self, session: Session, debtor_ids: Sequence[int | None]) -> None:
        from sqlalchemy import select

        from relance.store.models import Action
        from relance.store.settle import PENDING_STATES

        wanted = sorted({d for d in debtor_ids if d is not None})
        self.session = session
        self.before: dict[int, tuple[ActionState, str]] = {
            row.id: (row.state, row.content_hash) for row in session.execute(
                select(Action.id, Action.state, Action.content_hash)
                .where(Action.debtor_id.in_(wanted), Action.state.in_(PENDING_STATES)))
        } if wanted else {}

    def effect(self) -> QueueEffect:
        from sqlalchemy import select

        from relance.store.models import Action, ActionState

        result = QueueEffect()
        if not self.before:
            return result
        self.session.flush()
        for row in self.session.execute(
                select(Action.id, Action.state, Action.content_hash)
                .where(Action.id.in_(list(self.before))).order_by(Action.id)):
            state, content = self.before[row.id]
            if row.state == ActionState.CANCELLED:
                result.cancelled.append(row.id)
            elif row.content_hash != content:
                result.changed.append(row.id)
                if state != ActionState.PROPOSED and row.state == ActionState.PROPOSED:
                    result.back_to_proposed.append(row.id)
        return result


def emit_or_say(context: AppContext, payload: Any, lines: Sequence[str]) -> None:
    """`--json`: the payload; else the sentences, empty ones left out."""
    if context.json_output:
        context.emit_json(payload)
        return
    for line in lines:
        if line:
            say(context, line)
