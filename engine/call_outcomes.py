"""Call tasks: what came of a call, and what follows from it (a promise, a dispute, a
pause while a payment said made shows, a wrong number removed, a retry)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy.orm import Session

from relance.engine.case_holds import add_note, add_promise, open_dispute, pause
from relance.engine.case_locking import (
    Seen,
    audit_action,
    clean_reason,
    locked_debtor,
    locked_task,
)
from relance.engine.queue_decisions import current_lines
from relance.engine.roles import Actor, require_write
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money
from relance.store.models import ActionState, Channel, utcnow


class CallOutcome(enum.StrEnum):
    PROMISE = "promise"
    DISPUTE = "dispute"
    PAID_ALREADY = "paid_already"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


# When a debtor says it paid already, reminders wait this long for the payment to show.
PAID_ALREADY_CHECK_DAYS = 7


def record_call_outcome(
    session: Session,
    actor: Actor,
    seen: Seen,
    outcome: CallOutcome,
    *,
    today: dt.date,
    promised_on: dt.date | None = None,
    amount: Money | None = None,
    reason: str | None = None,
    retry_on: dt.date | None = None,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """What came of a call task, and what follows from it.

    promise: a promise to pay (date, optional amount); dispute: the call's invoices are
    disputed with the reason; paid already: a note, and the case paused for
    `PAID_ALREADY_CHECK_DAYS` while the payment shows; wrong number: the number is
    removed from the debtor (kept in the note and the event). These close the task
    (`sent`). no answer: the task stays on the list and comes back on `retry_on`.
    """
    require_write(actor, _("record a call"))
    action = locked_task(session, seen, Channel.CALL, ActionState.APPROVED,
                         not_this=_("action {id} is a {channel}, not a call"),
                         not_now=_("call {id} is {state}: not on the call list"),
                         actor=actor)
    when = now or utcnow()
    debtor_id = action.debtor_id
    detail: dict[str, Any] = {"outcome": outcome.value}
    if outcome is not CallOutcome.NO_ANSWER:
        # Done first, so that settling the queue after the promise, dispute or pause
        # below leaves this task alone: it is the one being closed.
        action.state = ActionState.SENT
        action.sent_at = when
        session.flush()
    if outcome is CallOutcome.PROMISE:
        if promised_on is None:
            raise UsageError(_("a promise needs a date"))
        promise = add_promise(session, actor, debtor_id, promised_on=promised_on, today=today,
                              amount=amount)
        detail |= {"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                   "amount": str(amount) if amount else None}
    elif outcome is CallOutcome.DISPUTE:
        text = clean_reason(reason, _("a dispute"))
        ids = [invoice.id for invoice, _queued in current_lines(session, action)
               if invoice.dispute_reason is None]
        if ids:
            open_dispute(session, actor, ids, reason=text, today=today)
        detail |= {"reason": text, "invoices": ids}
    elif outcome is CallOutcome.PAID_ALREADY:
        until = today + dt.timedelta(days=PAID_ALREADY_CHECK_DAYS)
        debtor = locked_debtor(session, debtor_id, actor)
        # The reasons and notes written here are kept as data, in English like the
        # event kinds: whoever reads the case later may speak another language.
        if debtor.paused_until is None or debtor.paused_until < until:
            pause(session, actor, debtor_id, until=until, today=today,
                  reason="says it paid already: checking")  # not for people: stored data
        add_note(session, actor, debtor_id, f"Call: says it paid already. {note or ''}".strip())
        detail |= {"paused_until": until.isoformat()}
    elif outcome is CallOutcome.NO_ANSWER:
        if retry_on is None or retry_on <= today:
            raise UsageError(_("no answer needs a retry date after today"))
        action.attempts += 1
        action.next_attempt_at = dt.datetime.combine(retry_on, dt.time(), tzinfo=dt.UTC)
        detail |= {"retry_on": retry_on.isoformat(), "attempt": action.attempts}
        if note:
            add_note(session, actor, debtor_id, f"Call, no answer: {note}")
        audit_action(session, actor, action, "call.outcome", detail)
        return
    elif outcome is CallOutcome.WRONG_NUMBER:
        debtor = locked_debtor(session, debtor_id, actor)
        old = debtor.phone
        debtor.phone = None
        add_note(session, actor, debtor_id,
                 f"Call: wrong number {old or ''}, removed. {note or ''}".strip())
        detail |= {"removed_phone": old}
    if note and outcome in (CallOutcome.PROMISE, CallOutcome.DISPUTE):
        add_note(session, actor, debtor_id, f"Call ({outcome.value.replace('_', ' ')}): {note}")
    action.attempts += 1
    action.output = {**(action.output or {}), "call": detail, "by": actor.name}
    audit_action(session, actor, action, "call.outcome", detail)


def call_due_before(today: dt.date) -> dt.datetime:
    """Call tasks whose retry time is before this are on today's list."""
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
