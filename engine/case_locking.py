"""What every change to a case starts from: the rows it locks, what the operator saw of
an action, the conflict when someone changed it meanwhile, and the audit event it leaves.

Concurrency is optimistic: the operator acts on what the screen showed them (a `Seen`:
the action's state and content hash, and for call tasks the attempt count). When
another operator changed the action meanwhile, a `Conflict` says who and what, and
nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.roles import Actor
from relance.engine.scope import require_visible
from relance.engine.words import state_word
from relance.kernel.errors import NotFound, RelanceError, UsageError
from relance.kernel.i18n import _
from relance.store import audit
from relance.store.models import Action, ActionState, Channel, Debtor, Event, Invoice

LockedRow = TypeVar("LockedRow", Action, Debtor)

class Conflict(RelanceError):
    """Another operator changed the thing meanwhile; nothing was overwritten."""

    def __init__(self, message: str, *, action_id: int | None = None) -> None:
        super().__init__(message)
        self.action_id = action_id


@dataclass(frozen=True)
class Seen:
    """What the operator saw of an action when deciding: the version they act on."""

    action_id: int
    state: ActionState
    content_hash: str
    attempts: int | None = None

    @classmethod
    def of(cls, action: Action) -> Seen:
        return cls(action.id, action.state, action.content_hash, action.attempts)



def _locked_one(session: Session, model: type[LockedRow], row_id: int,
                missing: str, actor: Actor | None) -> LockedRow:
    """`missing`: the refusal when there is no such row, with `{id}`, translated; a row
    of a creditor `actor` may not see gets the same refusal (engine/scope.py)."""
    # FOR UPDATE: on PostgreSQL two operators deciding at once queue on the row and the
    # second sees the first's change (SQLite's BEGIN IMMEDIATE serialises them anyway).
    row = session.scalars(
        select(model).where(model.id == row_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(missing.format(id=row_id))
    require_visible(session, actor, row.creditor_id, missing.format(id=row_id))
    return row


def locked_action(session: Session, action_id: int, actor: Actor | None = None) -> Action:
    """The action, locked for this transaction; `NotFound` when there is none or when
    it is of a creditor `actor` may not see (None: the system's own work, unscoped)."""
    return _locked_one(session, Action, action_id, _("no action {id}"), actor)


def locked_task(session: Session, seen: Seen, channel: Channel, state: ActionState, *,
                not_this: str, not_now: str, actor: Actor | None = None) -> Action:
    """The action the operator saw, locked, refused unless it is a `channel` action still
    as seen and in `state`. The refusals, translated by the caller: `not_this` (with
    `{id}` and `{channel}`) for an action of another channel, `not_now` (with `{id}` and
    `{state}`) for one in another state."""
    action = locked_action(session, seen.action_id, actor)
    if action.channel != channel:
        raise UsageError(not_this.format(id=action.id, channel=action.channel.value))
    check_seen(session, action, seen)
    if action.state != state:
        raise UsageError(not_now.format(id=action.id, state=state_word(action.state)))
    return action


def locked_debtor(session: Session, debtor_id: int, actor: Actor | None = None) -> Debtor:
    """The debtor, locked for this transaction; `NotFound` when there is none or when
    `actor` may not see its creditor, or, for a sales rep, when it is not theirs."""
    debtor = _locked_one(session, Debtor, debtor_id, _("no debtor {id}"), actor)
    if actor is not None and actor.sales_rep is not None \
            and debtor.sales_rep != actor.sales_rep:
        raise NotFound(_("no debtor {id}").format(id=debtor_id))
    return debtor


def locked_invoices(session: Session, invoice_ids: Sequence[int],
                    actor: Actor | None = None) -> list[Invoice]:
    """The invoices, locked and in id order; the first unknown id is refused, and so is
    one of a creditor `actor` may not see, in the same words."""
    if not invoice_ids:
        raise UsageError(_("choose at least one invoice"))
    rows = session.scalars(
        select(Invoice).where(Invoice.id.in_(list(invoice_ids))).order_by(Invoice.id)
        .with_for_update()
    ).all()
    missing = set(invoice_ids) - {r.id for r in rows}
    if missing:
        raise NotFound(_("no invoice {id}").format(id=min(missing)))
    for row in rows:
        require_visible(session, actor, row.creditor_id,
                        _("no invoice {id}").format(id=row.id))
    return list(rows)


def _last_actor(session: Session, action: Action) -> str:
    return session.scalars(
        select(Event.actor)
        .where(Event.subject_type == "action", Event.subject_id == str(action.id))
        .order_by(Event.id.desc())
        .limit(1)
    ).first() or _("someone")


def check_seen(session: Session, action: Action, seen: Seen) -> None:
    """Refuse with a `Conflict` when the action is no longer as the operator saw it."""
    if action.state != seen.state:
        who = _last_actor(session, action)
        raise Conflict(
            _("action {id} is now {state} ({who} changed it since you loaded it): nothing "
              "done, reload to see it").format(id=action.id, state=state_word(action.state),
                                               who=who),
            action_id=action.id,
        )
    if action.content_hash != seen.content_hash:
        raise Conflict(
            _("action {id} changed since you saw it (its invoices or amounts): review it "
              "again").format(id=action.id),
            action_id=action.id,
        )
    if seen.attempts is not None and action.attempts != seen.attempts:
        who = _last_actor(session, action)
        raise Conflict(
            _("call task {id} was updated by {who} since you loaded it: reload").format(
                id=action.id, who=who),
            action_id=action.id,
        )


def audit_action(session: Session, actor: Actor, action: Action, kind: str,
                 data: dict[str, Any]) -> None:
    """The audit event of a change to an action, with the content it applied to."""
    audit.record(session, actor=actor.name, kind=kind, subject_type="action",
                 subject_id=action.id, creditor_id=action.creditor_id,
                 debtor_id=action.debtor_id,
                 data={"channel": action.channel.value, "content_hash": action.content_hash,
                       **data})


def audit_debtor(session: Session, actor: Actor, debtor: Debtor, kind: str,
                 data: dict[str, Any]) -> None:
    """The audit event of a change to a debtor's case."""
    audit.record(session, actor=actor.name, kind=kind, subject_type="debtor",
                 subject_id=debtor.id, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                 data=data)


def audit_invoice(session: Session, actor: Actor, invoice: Invoice, kind: str,
                  data: dict[str, Any]) -> None:
    """The audit event of a change to an invoice, naming it by its number."""
    audit.record(session, actor=actor.name, kind=kind, subject_type="invoice",
                 subject_id=invoice.id, creditor_id=invoice.creditor_id,
                 debtor_id=invoice.debtor_id, data={"number": invoice.number, **data})


def clean_reason(reason: str | None, what: str) -> str:
    """The reason as kept in the audit log (as typed: data, never translated); refused
    when blank. `what`, translated by the caller, is what needs one: `a pause`."""
    text = (reason or "").strip()
    if not text:
        raise UsageError(_("{what} needs a reason").format(what=what))
    return text
