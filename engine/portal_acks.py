"""The e-mail that tells a debtor what relance recorded from their page, or what an
operator decided on their request.

Each is an ordinary action of the queue: an e-mail approved at once (nobody reviews a
receipt of what the debtor did themselves), with no invoice lines, so that settling
the queue leaves it alone, sent by the normal dispatch with its claims and started
marks (docs/reliability.md): never twice, never lost. It speaks in the creditor's
name, in the debtor's language, from the facts stored on the action as they were when
it was queued (`Action.output["portal_ack"]`: minor units, ISO days, invoice numbers);
`relance.channels.portal_acks` words them for the template `portal_ack`.

Its idempotency key names the event it acknowledges, and an event is written once: the
same change can never queue two acknowledgements.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.store.content import content_hash
from relance.store.models import Action, ActionState, Channel, Debtor, Event, utcnow

ACK_TEMPLATE = "portal_ack"
# The key of `Action.output` holding what the e-mail acknowledges.
ACK_KEY = "portal_ack"


class AckKind(StrEnum):
    """What an acknowledgement is about; the template words each."""

    PROMISE = "promise"
    DISPUTE = "dispute"
    PAYMENT_DECLARED = "payment_declared"
    PLAN_REQUESTED = "plan_requested"
    REQUEST_ACCEPTED = "request_accepted"
    REQUEST_REFUSED = "request_refused"


def ack_key(event_id: int) -> str:
    return f"portal-ack:{event_id}"  # not for people: an idempotency key


def last_event_id(session: Session) -> int:
    """The newest event of the log: in a transaction that just wrote one, its own
    (the log is appended under a lock held until commit, store/audit.py)."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


def queue_ack(session: Session, debtor: Debtor, kind: AckKind, facts: dict[str, Any], *,
              today: dt.date, actor: str) -> Action | None:
    """Queue the acknowledgement of the change whose event was just written; None when
    the debtor has no e-mail address (the page said what was recorded)."""
    if not debtor.email:
        return None
    action = Action(
        idempotency_key=ack_key(last_event_id(session)), creditor_id=debtor.creditor_id,
        debtor_id=debtor.id, created_on=today, channel=Channel.EMAIL,
        template=ACK_TEMPLATE, state=ActionState.APPROVED, requires_approval=False,
        proposed_by=actor, approved_by=actor, approved_at=utcnow(),
        content_hash=content_hash(debtor_id=debtor.id, channel=Channel.EMAIL.value,
                                  template=ACK_TEMPLATE, tone=None, target_stage=None,
                                  lines=[]),
        output={ACK_KEY: {"kind": kind.value, **facts}})
    session.add(action)
    session.flush()
    return action


__all__ = ["ACK_KEY", "ACK_TEMPLATE", "AckKind", "ack_key", "last_event_id", "queue_ack"]
