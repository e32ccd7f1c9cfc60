"""Sends in doubt: what an operator reads and decides about them.

A send whose dispatcher died between its start and its outcome is `uncertain`
(`relance.channels.recovery`): never resent blindly. `relance uncertain`, the dashboard
and the dispatch report list them; an operator who checked with the mail server or the
mail house confirms the send, or asks for it again (a failed send too).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from relance.channels.claims import now
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
from relance.store import audit
from relance.store.db import Store
from relance.store.models import Action, ActionState, Debtor


def confirm_sent(store: Store, action_id: int, actor: str) -> None:
    """An operator confirms that an uncertain action did go out: it becomes `sent`."""
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise NotFound(_("no action {action}").format(action=action_id))
        if action.state != ActionState.UNCERTAIN:
            raise UsageError(_("action {action} is {state}, not uncertain").format(
                action=action_id, state=action.state))
        action.state = ActionState.SENT
        action.sent_at = action.sent_at or now()
        action.output = {**(action.output or {}), "confirmed_by": actor}
        audit.record(session, actor=actor, kind="action.confirmed_sent", subject_type="action",
                     subject_id=action_id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data={})


def resend(store: Store, action_id: int, actor: str) -> None:
    """An operator asks to send an uncertain (or failed) action again: back to `approved`."""
    with store.write_transaction() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise NotFound(_("no action {action}").format(action=action_id))
        if action.state not in (ActionState.UNCERTAIN, ActionState.FAILED):
            raise UsageError(_("action {action} is {state}: only uncertain or failed actions "
                               "can be resent").format(action=action_id, state=action.state))
        previous = str(action.state)
        action.state = ActionState.APPROVED
        action.claimed_by = None
        action.next_attempt_at = None
        audit.record(session, actor=actor, kind="action.resend", subject_type="action",
                     subject_id=action_id, creditor_id=action.creditor_id,
                     debtor_id=action.debtor_id, data={"from": previous})


def uncertain_sends(store: Store) -> list[dict[str, Any]]:
    """The sends in doubt, oldest first, with what is known of each: for `relance
    uncertain`, so that an operator can check with the server or the mail house."""
    with store.transaction() as session:
        rows = session.execute(
            select(Action, Debtor.ref, Debtor.name).join(Debtor, Debtor.id == Action.debtor_id)
            .where(Action.state == ActionState.UNCERTAIN).order_by(Action.id)).all()
        return [{
            "action": action.id, "channel": str(action.channel),
            "template": action.template, "debtor": ref, "debtor_name": name,
            "claimed_by": action.claimed_by,
            "claimed_at": action.claimed_at.isoformat() if action.claimed_at else None,
            "attempts": action.attempts, "last_error": action.last_error,
            "output": dict(action.output or {}),
        } for action, ref, name in rows]


def count_uncertain(store: Store) -> int:
    """The sends in doubt in the whole queue, whoever left them."""
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Action).where(
            Action.state == ActionState.UNCERTAIN)) or 0)
