"""Undoing a change to a case by a compensating change: the history keeps both.

`undo` takes the event of a change (a payment, a credit note, an allocation, a pause, a
resume, a dispute opened or closed, a promise, a plan, a note) and applies its opposite
through the same functions as any change, so the plans and the queue are settled in the
same transaction. The compensating event carries `undoes: <event id>`; an event can be
undone once, and only while what it did still stands (a pause changed since, or a
dispute closed since, is a conflict to resolve by hand). What a change cancelled in the
queue stays cancelled: the next run decides again from the restored case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from relance.engine import plans
from relance.engine.casework import Conflict, locked_debtor, locked_invoices
from relance.engine.roles import Actor, require_write
from relance.engine.scope import require_visible
from relance.kernel.display import show_date, show_datetime
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
from relance.store import audit, book
from relance.store.models import Debtor, Event, Invoice, Note, Promise, PromiseStatus, utcnow

Undoer = Callable[[Session, Actor, Event, str, dt.date], None]
# The queue's own events are many and never compensate a change: not worth reading.
_NEVER_UNDOES = ("action.settled", "action.in_flight", "action.sent", "action.approved")


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _record(session: Session, actor: Actor, event: Event, kind: str,
            data: dict[str, Any]) -> None:
    audit.record(session, actor=actor.name, kind=kind, subject_type=event.subject_type,
                 subject_id=event.subject_id, creditor_id=event.creditor_id,
                 debtor_id=event.debtor_id, data={"undoes": event.id, **data})


def _payment(session: Session, actor: Actor, event: Event, reason: str,
             today: dt.date) -> None:
    book.reverse_payment(session, int(event.subject_id), on=today, reason=reason,
                         actor=actor.name, today=today, data={"undoes": event.id})


def _allocation(session: Session, actor: Actor, event: Event, reason: str,
                today: dt.date) -> None:
    ids = [a["invoice_id"] for a in event.data.get("allocations", [])]
    book.unallocate(session, int(event.subject_id), ids, actor=actor.name, today=today)
    _record(session, actor, event, "payment.allocation_undone", {"reason": reason})


def _debtor(session: Session, event: Event) -> Debtor:
    return locked_debtor(session, int(event.subject_id))


def _pause(session: Session, actor: Actor, event: Event, reason: str, today: dt.date) -> None:
    debtor = _debtor(session, event)
    if debtor.paused_until != _date(event.data.get("until")):
        raise Conflict(_("{debtor}'s pause was changed since event {event}: change it by "
                         "hand").format(debtor=debtor.name, event=event.id))
    previous = _date(event.data.get("previous"))
    if previous is not None and previous >= today:
        debtor.paused_until, debtor.pause_reason = previous, event.data.get("previous_reason")
    else:
        debtor.paused_until, debtor.pause_reason = None, None
    _record(session, actor, event, "debtor.pause_undone",
            {"reason": reason, "paused_until": debtor.paused_until.isoformat()
             if debtor.paused_until else None})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause=f"undo of {event.id}")


def _resume(session: Session, actor: Actor, event: Event, reason: str, today: dt.date) -> None:
    debtor = _debtor(session, event)
    if debtor.paused_until is not None and debtor.paused_until >= today:
        raise Conflict(_("{debtor} was paused again since event {event}").format(
            debtor=debtor.name, event=event.id))
    until = _date(event.data.get("was_until"))
    if until is None or until < today:
        raise UsageError(_("the pause that event {event} ended is over since {day}: nothing "
                           "to restore").format(event=event.id,
                                                day=show_date(until) if until else "?"))
    debtor.paused_until, debtor.pause_reason = until, event.data.get("was_reason") or reason
    _record(session, actor, event, "debtor.resume_undone",
            {"reason": reason, "paused_until": until.isoformat()})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause=f"undo of {event.id}")


def _invoice(session: Session, event: Event) -> Invoice:
    return locked_invoices(session, [int(event.subject_id)])[0]


def _dispute_opened(session: Session, actor: Actor, event: Event, reason: str,
                    today: dt.date) -> None:
    invoice = _invoice(session, event)
    if invoice.dispute_reason != event.data.get("reason"):
        raise Conflict(_("the dispute on {number} changed since event {event}").format(
            number=invoice.number, event=event.id))
    invoice.dispute_reason, invoice.disputed_since = None, None
    _record(session, actor, event, "invoice.dispute_undone", {"reason": reason})


def _dispute_closed(session: Session, actor: Actor, event: Event, reason: str,
                    today: dt.date) -> None:
    invoice = _invoice(session, event)
    if invoice.dispute_reason is not None:
        raise Conflict(_("{number} is disputed again since event {event}").format(
            number=invoice.number, event=event.id))
    invoice.dispute_reason = event.data.get("reason") or reason
    invoice.disputed_since = _date(event.data.get("since")) or today
    _record(session, actor, event, "invoice.dispute_close_undone", {"reason": reason})
    book.settle_case(session, debtor_ids=[invoice.debtor_id], today=today, actor=actor.name,
                     cause=f"undo of {event.id}")


def _promise(session: Session, actor: Actor, event: Event, reason: str,
             today: dt.date) -> None:
    promise = session.get(Promise, int(event.data["promise_id"]))
    if promise is None:
        raise NotFound(_("no promise {id}").format(id=event.data["promise_id"]))
    if promise.status == PromiseStatus.CANCELLED:
        raise UsageError(_("promise {id} is already cancelled").format(id=promise.id))
    promise.status = PromiseStatus.CANCELLED
    _record(session, actor, event, "promise.undone", {"reason": reason,
                                                      "promise_id": promise.id})


def _note(session: Session, actor: Actor, event: Event, reason: str, today: dt.date) -> None:
    note = session.get(Note, int(event.data["note_id"]))
    if note is None:
        raise NotFound(_("no note {id}").format(id=event.data["note_id"]))
    note.retracted_at = utcnow()
    _record(session, actor, event, "note.retracted", {"reason": reason, "note_id": note.id})


def _plan(session: Session, actor: Actor, event: Event, reason: str, today: dt.date) -> None:
    plans.cancel_plan(session, actor, int(event.subject_id), reason=reason, today=today,
                      kind="plan.undone", data={"undoes": event.id})


UNDOERS: dict[str, Undoer] = {
    "payment.recorded": _payment,
    "credit_note.recorded": _payment,
    "payment.allocated": _allocation,
    "debtor.paused": _pause,
    "debtor.resumed": _resume,
    "invoice.dispute_opened": _dispute_opened,
    "invoice.dispute_closed": _dispute_closed,
    "promise.added": _promise,
    "note.added": _note,
    "plan.created": _plan,
}


def undone_by(session: Session, event: Event) -> Event | None:
    """The event that undid this one, if any."""
    return undoers_of(session, [event]).get(event.id)


def undoers_of(session: Session, events: Sequence[Event]) -> dict[int, Event]:
    """For each of these events that was undone, the event that undid it: one query for a
    whole history, not one per line."""
    wanted = {e.id for e in events if can_undo(e)}
    if not wanted:
        return {}
    debtors = {e.debtor_id for e in events if e.id in wanted and e.debtor_id is not None}
    # By subject too: a payment in suspense has no debtor until it is allocated.
    subjects = {e.subject_id for e in events if e.id in wanted}
    later = session.scalars(select(Event).where(
        Event.id > min(wanted), Event.kind.not_in(_NEVER_UNDOES),
        or_(Event.debtor_id.in_(sorted(debtors)), Event.subject_id.in_(sorted(subjects))))
        .order_by(Event.id))
    found: dict[int, Event] = {}
    for candidate in later:
        undone = (candidate.data or {}).get("undoes")
        if undone in wanted and undone not in found:
            found[undone] = candidate
    return found


def can_undo(event: Event) -> bool:
    return event.kind in UNDOERS


def undo(session: Session, actor: Actor, event_id: int, *, reason: str,
         today: dt.date) -> None:
    """Undo the change that event `event_id` recorded (see the module doc)."""
    require_write(actor, _("undo a change"))
    # The reason is kept in the history as data: the default is not translated.
    text = reason.strip() or "undone"
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(_("no event {id}").format(id=event_id))
    # An event of no creditor is no one's case: only a user who sees every creditor.
    require_visible(session, actor, event.creditor_id if event.creditor_id is not None
                    else -1, _("no event {id}").format(id=event_id))
    undoer = UNDOERS.get(event.kind)
    if undoer is None:
        raise UsageError(_("event {id} ({kind}) cannot be undone: only payments, credit "
                           "notes, allocations, pauses, resumes, disputes, promises, plans and "
                           "notes can").format(id=event_id, kind=event.kind))
    earlier = undone_by(session, event)
    if earlier is not None:
        raise UsageError(_("event {id} was already undone by event {other} ({who}, {when})")
                         .format(id=event_id, other=earlier.id, who=earlier.actor,
                                 when=show_datetime(earlier.at)))
    undoer(session, actor, event, text, today)
