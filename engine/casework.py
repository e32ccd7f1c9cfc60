"""The operators' changes to cases, as plain operations on a session (no UI).

Each operation checks the actor's role, changes the store and appends its audit event in
the caller's transaction; the caller commits (`store.write_transaction()`), so a change
and its event land together or not at all.

Concurrency is optimistic: the operator acts on what the screen showed them (a `Seen`:
the action's state and content hash, and for call tasks the attempt count). When
another operator changed the action meanwhile, a `Conflict` says who and what, and
nothing is overwritten. Bulk operations apply to the actions still as seen and report
the others.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.roles import (
    Actor,
    NotAllowed,
    Policy,
    require_credit_manager,
    require_write,
)
from relance.kernel.dates import DateError, parse_date
from relance.kernel.errors import NotFound, RelanceError, UsageError
from relance.kernel.money import Money, normalise_currency, to_decimal, to_minor
from relance.store import audit, book
from relance.store.importing.numbers import AmountError, parse_amount
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Channel,
    Debtor,
    Event,
    Invoice,
    InvoiceLevel,
    ItemState,
    Note,
    Payment,
    PaymentKind,
    Promise,
    PromiseStatus,
    Stage,
    utcnow,
)
from relance.store.settle import settle_queue


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


@dataclass
class BulkResult:
    """Which actions a bulk operation changed, and which it left because they changed."""

    done: list[int] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # Seen in a state the decision does not apply to (approving an approved action).
    skipped: list[int] = field(default_factory=list)
    # Refused for this actor or this action (an operator on an escalation, the proposer
    # approving their own): (action id, why). Nothing of these was written.
    refused: list[tuple[int, str]] = field(default_factory=list)


class EscalationDecision(enum.StrEnum):
    APPROVED = "approved"  # final: the invoices moved to the target stage
    AWAITING_SECOND = "awaiting_second"  # four eyes: one approval recorded, one to go


class CallOutcome(enum.StrEnum):
    PROMISE = "promise"
    DISPUTE = "dispute"
    PAID_ALREADY = "paid_already"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


# When a debtor says it paid already, reminders wait this long for the payment to show.
PAID_ALREADY_CHECK_DAYS = 7


def _money(minor: int, currency: str) -> str:
    return f"{to_decimal(minor, currency)} {currency}"


def parse_money(text: str, currency: str, *, what: str = "amount") -> Money:
    """An amount typed by a person (`1234.56`, `1234,56`, `1 234,56`, optionally followed
    by the currency code, which must then be `currency`)."""
    raw = text.strip()
    parts = raw.rsplit(None, 1)
    if len(parts) == 2 and parts[1].isalpha() and len(parts[1]) == 3:
        raw = parts[0]
        if normalise_currency(parts[1]) != currency:
            raise UsageError(f"{what} {text!r} is in {parts[1].upper()}, expected {currency}")
    try:
        value = parse_amount(raw)
        return Money(currency, to_minor(value, currency))
    except AmountError as exc:
        raise UsageError(f"{what} {text!r} {exc}") from None
    except ValueError as exc:
        raise UsageError(f"{what} {text!r}: {exc}") from None


def parse_day(text: str, *, what: str = "date") -> dt.date:
    """A date typed by a person: `2026-11-30` or `30/11/2026`."""
    try:
        return parse_date(text)
    except DateError as exc:
        raise UsageError(f"{what} {text!r} {exc}") from None


def _load_action(session: Session, action_id: int) -> Action:
    # FOR UPDATE: on PostgreSQL two operators deciding at once queue on the row and the
    # second sees the first's change (SQLite's BEGIN IMMEDIATE serialises them anyway).
    action = session.scalars(
        select(Action).where(Action.id == action_id).with_for_update()
    ).one_or_none()
    if action is None:
        raise NotFound(f"no action {action_id}")
    return action


def _last_actor(session: Session, action: Action) -> str:
    return session.scalars(
        select(Event.actor)
        .where(Event.subject_type == "action", Event.subject_id == str(action.id))
        .order_by(Event.id.desc())
        .limit(1)
    ).first() or "someone"


def _check_seen(session: Session, action: Action, seen: Seen) -> None:
    if action.state != seen.state:
        who = _last_actor(session, action)
        raise Conflict(
            f"action {action.id} is now {action.state.value} ({who} changed it since you "
            "loaded it): nothing done, reload to see it",
            action_id=action.id,
        )
    if action.content_hash != seen.content_hash:
        raise Conflict(
            f"action {action.id} changed since you saw it (its invoices or amounts): "
            "review it again",
            action_id=action.id,
        )
    if seen.attempts is not None and action.attempts != seen.attempts:
        who = _last_actor(session, action)
        raise Conflict(
            f"call task {action.id} was updated by {who} since you loaded it: reload",
            action_id=action.id,
        )


def _audit_action(session: Session, actor: Actor, action: Action, kind: str,
                  data: dict[str, Any]) -> None:
    audit.record(session, actor=actor.name, kind=kind, subject_type="action",
                 subject_id=action.id, creditor_id=action.creditor_id,
                 debtor_id=action.debtor_id,
                 data={"channel": action.channel.value, "content_hash": action.content_hash,
                       **data})


def _clean_reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise UsageError(f"{what} needs a reason")
    return text


# --------------------------------------------------------------------------- routine actions


def approve(session: Session, actor: Actor, seen: Seen, *, policy: Policy | None = None,
            now: dt.datetime | None = None) -> ActionState:
    """Approve one proposed action as seen; an escalation goes through
    `approve_escalation` (credit managers, four eyes). Returns the action's new state."""
    require_write(actor, "approve actions")
    action = _load_action(session, seen.action_id)
    if action.channel == Channel.ESCALATE:
        decision = approve_escalation(session, actor, seen, policy=policy or Policy(), now=now)
        return (ActionState.SENT if decision == EscalationDecision.APPROVED
                else ActionState.PROPOSED)
    _check_seen(session, action, seen)
    if action.state != ActionState.PROPOSED:
        raise UsageError(f"action {action.id} is {action.state.value}: only a proposed "
                         "action can be approved")
    when = now or utcnow()
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="approve", content_hash=action.content_hash, decided_at=when))
    action.state = ActionState.APPROVED
    action.approved_by = actor.name
    action.approved_at = when
    _audit_action(session, actor, action, "action.approved", {})
    return action.state


def reject(session: Session, actor: Actor, seen: Seen, reason: str, *,
           now: dt.datetime | None = None) -> None:
    """Reject one action with a reason: a proposed one (a letter, a call, an escalation),
    or an approved one the dispatch has not taken yet."""
    require_write(actor, "reject actions")
    text = _clean_reason(reason, "a rejection")
    action = _load_action(session, seen.action_id)
    if action.channel == Channel.ESCALATE:
        require_credit_manager(actor, "refuse an escalation")
    _check_seen(session, action, seen)
    # An approved action not yet claimed by the dispatch can still be stopped.
    stoppable = ({ActionState.PROPOSED} if action.channel == Channel.ESCALATE
                 else {ActionState.PROPOSED, ActionState.APPROVED})
    if action.state not in stoppable:
        raise UsageError(f"action {action.id} is {action.state.value}: only a proposed "
                         "or approved action can be rejected")
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="reject", reason=text, content_hash=action.content_hash,
                         decided_at=now or utcnow()))
    action.state = ActionState.REJECTED
    _audit_action(session, actor, action, "action.rejected", {"reason": text})


def approve_many(session: Session, actor: Actor, seen: Iterable[Seen], *,
                 policy: Policy | None = None, now: dt.datetime | None = None) -> BulkResult:
    """Approve every action still as seen; the others are reported, not touched."""
    require_write(actor, "approve actions")
    result = BulkResult()
    for one in seen:
        if one.state != ActionState.PROPOSED:
            result.skipped.append(one.action_id)
            continue
        try:
            with session.begin_nested():  # a refusal leaves nothing of this one behind
                approve(session, actor, one, policy=policy, now=now)
        except Conflict as conflict:
            result.conflicts.append(conflict)
        except RelanceError as refusal:
            result.refused.append((one.action_id, refusal.message))
        else:
            result.done.append(one.action_id)
    return result


def reject_many(session: Session, actor: Actor, seen: Iterable[Seen], reason: str, *,
                now: dt.datetime | None = None) -> BulkResult:
    """Reject every action still as seen with one reason; report the others."""
    require_write(actor, "reject actions")
    _clean_reason(reason, "a rejection")
    result = BulkResult()
    for one in seen:
        if one.state not in (ActionState.PROPOSED, ActionState.APPROVED):
            result.skipped.append(one.action_id)
            continue
        try:
            with session.begin_nested():
                reject(session, actor, one, reason, now=now)
        except Conflict as conflict:
            result.conflicts.append(conflict)
        except RelanceError as refusal:
            result.refused.append((one.action_id, refusal.message))
        else:
            result.done.append(one.action_id)
    return result


# --------------------------------------------------------------------------- escalations


def current_lines(session: Session, action: Action) -> list[tuple[Invoice, int]]:
    """The active items' invoices with the balance each showed when queued."""
    lines = []
    for item in action.items:
        if item.state != ItemState.ACTIVE:
            continue
        invoice = session.get(Invoice, item.invoice_id)
        assert invoice is not None  # a foreign key
        lines.append((invoice, item.balance_minor))
    return lines


def refresh_content(session: Session, action_id: int, *, actor: str = "relance",
                    today: dt.date | None = None) -> bool:
    """Bring a waiting action up to date with its invoices before anyone decides on it
    (`relance.store.settle`): every case change already does so in its own transaction;
    this catches what changed the book around it (a database restored, a manual fix).
    Returns whether anything changed."""
    action = _load_action(session, action_id)
    settled = settle_queue(session, debtor_ids=[action.debtor_id], action_ids=[action_id],
                           today=today or dt.date.today(), actor=actor, cause="refresh")
    return bool(settled.changed or settled.cancelled)


def escalation_amounts(action: Action) -> list[Money]:
    """What an escalation moves, per currency, as queued."""
    totals: dict[str, int] = defaultdict(int)
    for item in action.items:
        if item.state == ItemState.ACTIVE:
            totals[item.currency] += item.balance_minor
    return [Money(currency, minor) for currency, minor in sorted(totals.items())]


def valid_approvals(action: Action) -> list[Approval]:
    """Approvals that still bind: given to the action's current content."""
    return [a for a in action.approvals
            if a.decision == "approve" and a.content_hash == action.content_hash]


def approve_escalation(session: Session, actor: Actor, seen: Seen, *, policy: Policy,
                       now: dt.datetime | None = None) -> EscalationDecision:
    """A credit manager's approval of an escalation proposal.

    Whoever proposed it cannot approve it. Above the workspace's four-eyes threshold the
    first approval is recorded and the proposal waits for a second, different credit
    manager; the last approval moves the invoices to the target stage and the action to
    `sent`. Approvals bind to the content hash: a payment since the proposal voids them.
    """
    require_credit_manager(actor, "approve an escalation")
    action = _load_action(session, seen.action_id)
    if action.channel != Channel.ESCALATE:
        raise UsageError(f"action {action.id} is a {action.channel.value}, not an escalation")
    _check_seen(session, action, seen)
    if action.state != ActionState.PROPOSED:
        raise UsageError(f"escalation {action.id} is {action.state.value}: nothing to approve")
    if action.proposed_by == actor.name:
        raise NotAllowed(f"{actor.name} proposed escalation {action.id}: another credit "
                         "manager must approve it")
    for invoice, queued in current_lines(session, action):
        if invoice.balance_minor != queued or invoice.dispute_reason is not None:
            raise Conflict(
                f"invoice {invoice.number} changed since the proposal (balance now "
                f"{_money(invoice.balance_minor, invoice.currency)}"
                f"{', disputed' if invoice.dispute_reason is not None else ''}): "
                "reload to review the escalation again",
                action_id=action.id,
            )
    debtor = session.get(Debtor, action.debtor_id)
    assert debtor is not None
    today = (now or utcnow()).date()
    if debtor.paused_until is not None and debtor.paused_until >= today:
        raise UsageError(f"{debtor.name} is paused until {debtor.paused_until}: "
                         "resume the case before escalating it")
    earlier = valid_approvals(action)
    if any(a.user == actor.name for a in earlier):
        raise NotAllowed(f"{actor.name} already approved escalation {action.id}: a second "
                         "credit manager must approve it")
    when = now or utcnow()
    session.add(Approval(action_id=action.id, user=actor.name, role=actor.role.value,
                         decision="approve", content_hash=action.content_hash, decided_at=when))
    amounts = escalation_amounts(action)
    needed = 2 if policy.needs_two_approvals(amounts) else 1
    approvers = [a.user for a in earlier] + [actor.name]
    amount_text = ", ".join(str(m) for m in amounts)
    if len(approvers) < needed:
        _audit_action(session, actor, action, "escalation.first_approval",
                      {"amount": amount_text, "needed": needed})
        return EscalationDecision.AWAITING_SECOND
    stage = action.target_stage or Stage.AMICABLE
    moved = []
    for invoice, _queued in current_lines(session, action):
        invoice.stage = stage
        moved.append(invoice.number)
    action.state = ActionState.SENT
    action.approved_by = ", ".join(approvers)[:120]
    action.approved_at = when
    action.sent_at = when
    _audit_action(session, actor, action, "escalation.approved",
                  {"stage": stage.value, "invoices": moved, "approvers": approvers,
                   "amount": amount_text})
    return EscalationDecision.APPROVED


# --------------------------------------------------------------------------- the case


_UNCHANGED: Any = object()


def locked_debtor(session: Session, debtor_id: int) -> Debtor:
    debtor = session.scalars(
        select(Debtor).where(Debtor.id == debtor_id).with_for_update()
    ).one_or_none()
    if debtor is None:
        raise NotFound(f"no debtor {debtor_id}")
    return debtor


def _audit_debtor(session: Session, actor: Actor, debtor: Debtor, kind: str,
                  data: dict[str, Any]) -> None:
    audit.record(session, actor=actor.name, kind=kind, subject_type="debtor",
                 subject_id=debtor.id, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                 data=data)


def pause(session: Session, actor: Actor, debtor_id: int, *, until: dt.date, reason: str,
          today: dt.date, seen_paused_until: dt.date | None = _UNCHANGED) -> None:
    """Pause every reminder to a debtor up to and including `until`."""
    require_write(actor, "pause a case")
    text = _clean_reason(reason, "a pause")
    if until < today:
        raise UsageError(f"a pause must end today or later, not {until}")
    debtor = locked_debtor(session, debtor_id)
    if seen_paused_until is not _UNCHANGED and debtor.paused_until != seen_paused_until:
        raise Conflict(f"{debtor.name}'s pause was changed meanwhile (now "
                       f"{debtor.paused_until or 'not paused'}): reload")
    previous, previous_reason = debtor.paused_until, debtor.pause_reason
    debtor.paused_until, debtor.pause_reason = until, text
    _audit_debtor(session, actor, debtor, "debtor.paused",
                  {"until": until.isoformat(), "reason": text,
                   "previous": previous.isoformat() if previous else None,
                   "previous_reason": previous_reason})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause="pause")


def resume(session: Session, actor: Actor, debtor_id: int, *, reason: str, today: dt.date,
           seen_paused_until: dt.date | None = _UNCHANGED) -> None:
    """End a debtor's pause now."""
    require_write(actor, "resume a case")
    text = _clean_reason(reason, "resuming a case")
    debtor = locked_debtor(session, debtor_id)
    if seen_paused_until is not _UNCHANGED and debtor.paused_until != seen_paused_until:
        raise Conflict(f"{debtor.name}'s pause was changed meanwhile (now "
                       f"{debtor.paused_until or 'not paused'}): reload")
    if debtor.paused_until is None or debtor.paused_until < today:
        raise UsageError(f"{debtor.name} is not paused")
    previous, previous_reason = debtor.paused_until, debtor.pause_reason
    debtor.paused_until, debtor.pause_reason = None, None
    _audit_debtor(session, actor, debtor, "debtor.resumed",
                  {"reason": text, "was_until": previous.isoformat(),
                   "was_reason": previous_reason})


def locked_invoices(session: Session, invoice_ids: Sequence[int]) -> list[Invoice]:
    if not invoice_ids:
        raise UsageError("choose at least one invoice")
    rows = session.scalars(
        select(Invoice).where(Invoice.id.in_(list(invoice_ids))).order_by(Invoice.id)
        .with_for_update()
    ).all()
    missing = set(invoice_ids) - {r.id for r in rows}
    if missing:
        raise NotFound(f"no invoice {min(missing)}")
    return list(rows)


def _audit_invoice(session: Session, actor: Actor, invoice: Invoice, kind: str,
                   data: dict[str, Any]) -> None:
    audit.record(session, actor=actor.name, kind=kind, subject_type="invoice",
                 subject_id=invoice.id, creditor_id=invoice.creditor_id,
                 debtor_id=invoice.debtor_id, data={"number": invoice.number, **data})


def open_dispute(session: Session, actor: Actor, invoice_ids: Sequence[int], *, reason: str,
                 today: dt.date) -> None:
    """Mark invoices disputed: reminders about them stop until the dispute is closed."""
    require_write(actor, "open a dispute")
    text = _clean_reason(reason, "a dispute")
    invoices = locked_invoices(session, invoice_ids)
    for invoice in invoices:
        if invoice.dispute_reason is not None:
            raise Conflict(f"invoice {invoice.number} is already disputed since "
                           f"{invoice.disputed_since} ({invoice.dispute_reason})")
        invoice.dispute_reason, invoice.disputed_since = text, today
        _audit_invoice(session, actor, invoice, "invoice.dispute_opened", {"reason": text})
    book.settle_case(session, debtor_ids={i.debtor_id for i in invoices}, today=today,
                     actor=actor.name, cause="dispute")


def close_dispute(session: Session, actor: Actor, invoice_ids: Sequence[int], *,
                  resolution: str) -> None:
    """Close the dispute on invoices: they are chased again."""
    require_write(actor, "close a dispute")
    text = _clean_reason(resolution, "closing a dispute")
    for invoice in locked_invoices(session, invoice_ids):
        if invoice.dispute_reason is None:
            raise Conflict(f"invoice {invoice.number} is not disputed (any more)")
        data = {"resolution": text, "reason": invoice.dispute_reason,
                "since": invoice.disputed_since.isoformat() if invoice.disputed_since else None}
        invoice.dispute_reason, invoice.disputed_since = None, None
        _audit_invoice(session, actor, invoice, "invoice.dispute_closed", data)


def add_promise(session: Session, actor: Actor, debtor_id: int, *, promised_on: dt.date,
                today: dt.date, amount: Money | None = None,
                invoice_id: int | None = None) -> Promise:
    """Record a promise to pay by `promised_on` (inclusive), of an amount or of all."""
    require_write(actor, "record a promise")
    if promised_on < today:
        raise UsageError(f"a promise must be for today or later, not {promised_on}")
    if amount is not None and amount.minor <= 0:
        raise UsageError("a promised amount must be positive")
    debtor = locked_debtor(session, debtor_id)
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.debtor_id != debtor.id:
            raise NotFound(f"no invoice {invoice_id} for {debtor.name}")
    promise = Promise(creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                      invoice_id=invoice_id, promised_on=promised_on,
                      currency=amount.currency if amount else None,
                      amount_minor=amount.minor if amount else None,
                      status=PromiseStatus.OPEN, recorded_by=actor.name)
    session.add(promise)
    session.flush()
    _audit_debtor(session, actor, debtor, "promise.added",
                  {"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                   "amount": str(amount) if amount else None, "invoice_id": invoice_id})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause="promise")
    return promise


def add_note(session: Session, actor: Actor, debtor_id: int, body: str, *,
             invoice_id: int | None = None) -> Note:
    """A free-text note on the case."""
    require_write(actor, "add a note")
    text = body.strip()
    if not text:
        raise UsageError("a note cannot be empty")
    debtor = locked_debtor(session, debtor_id)
    note = Note(creditor_id=debtor.creditor_id, debtor_id=debtor.id, invoice_id=invoice_id,
                author=actor.name, body=text)
    session.add(note)
    session.flush()
    _audit_debtor(session, actor, debtor, "note.added", {"note_id": note.id, "body": text})
    return note


def record_payment(session: Session, actor: Actor, *, creditor_id: int,
                   debtor_id: int | None, amount: Money, received_on: dt.date,
                   reference: str, allocations: Sequence[tuple[int, int]] | None = None,
                   today: dt.date | None = None) -> Payment:
    """`relance.store.book.record_payment` for a person: operators and credit managers."""
    require_write(actor, "record a payment")
    return book.record_payment(session, creditor_id=creditor_id, debtor_id=debtor_id,
                               amount=amount, received_on=received_on, reference=reference,
                               actor=actor.name, allocations=allocations, today=today)


def pay_invoices(session: Session, actor: Actor, invoice_ids: Sequence[int], *,
                 amount: Money, received_on: dt.date, reference: str,
                 today: dt.date | None = None) -> Payment:
    """A payment for these invoices, in the order given, each up to its balance; more
    than they owe is recorded whole and the surplus stays on the debtor's account (the
    same rule for `relance pay`, the TUI and the imports)."""
    require_write(actor, "record a payment")
    if amount.minor <= 0:
        raise UsageError(f"a payment must be positive, not {amount}")
    invoices = locked_invoices(session, invoice_ids)
    order = {invoice_id: n for n, invoice_id in enumerate(invoice_ids)}
    invoices.sort(key=lambda invoice: order[invoice.id])
    debtors = {invoice.debtor_id for invoice in invoices}
    if len(debtors) != 1:
        raise UsageError("one payment pays invoices of one debtor")
    first = invoices[0]
    allocations = book.share_out(invoices, amount.minor, amount.currency)
    if not allocations:
        raise UsageError(f"invoice {first.number} has nothing left to pay "
                         f"(balance {_money(first.balance_minor, first.currency)})"
                         if len(invoices) == 1 else "the invoices named have nothing left "
                         "to pay")
    return book.record_payment(session, creditor_id=first.creditor_id,
                               debtor_id=first.debtor_id, amount=amount,
                               received_on=received_on, reference=reference,
                               actor=actor.name, allocations=allocations, today=today)


def record_credit_note(session: Session, actor: Actor, invoice_id: int, *, amount: Money,
                       on: dt.date, reference: str, today: dt.date | None = None) -> Payment:
    """A credit note granted on an invoice: its balance goes down as by a payment, and
    the book says it was a credit note. It cannot exceed the invoice's balance."""
    require_write(actor, "record a credit note")
    if not reference.strip():
        raise UsageError("a credit note needs its number (the reference)")
    invoice = locked_invoices(session, [invoice_id])[0]
    return book.record_payment(session, creditor_id=invoice.creditor_id,
                               debtor_id=invoice.debtor_id, amount=amount, received_on=on,
                               reference=reference.strip(), actor=actor.name,
                               allocations=[(invoice.id, amount.minor)],
                               kind=PaymentKind.CREDIT_NOTE, source="manual", today=today)


def reverse_payment(session: Session, actor: Actor, payment_id: int, *, on: dt.date,
                    reason: str, today: dt.date | None = None) -> Payment:
    """A payment that did not hold (a direct debit returned, a cheque bounced): its
    invoices reopen and are chased again."""
    require_write(actor, "reverse a payment")
    return book.reverse_payment(session, payment_id, on=on, reason=reason, actor=actor.name,
                                today=today)


def allocate_payment(session: Session, actor: Actor, payment_id: int, *,
                     debtor_id: int | None = None,
                     allocations: Sequence[tuple[int, int]] | None = None,
                     today: dt.date | None = None) -> list[book.Allocation]:
    """Allocate a payment in suspense (or a credit on account) to a debtor's invoices."""
    require_write(actor, "allocate a payment")
    return book.allocate_payment(session, payment_id, actor=actor.name, debtor_id=debtor_id,
                                 allocations=allocations, today=today)


def reset_level(session: Session, actor: Actor, invoice_id: int, policy: str, *,
                reason: str, today: dt.date) -> None:
    """Start an invoice again at the beginning of a policy's ladder."""
    require_write(actor, "reset a level")
    text = _clean_reason(reason, "a level reset")
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    level = session.get(InvoiceLevel, (invoice_id, policy))
    previous = level.rule if level else None
    if level is None:
        level = InvoiceLevel(invoice_id=invoice_id, policy=policy)
        session.add(level)
    level.rule, level.acted_on = None, today
    session.flush()
    _audit_invoice(session, actor, invoice, "level.reset",
                   {"policy": policy, "previous_rule": previous, "reason": text})


# --------------------------------------------------------------------------- calls


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
    require_write(actor, "record a call")
    action = _load_action(session, seen.action_id)
    if action.channel != Channel.CALL:
        raise UsageError(f"action {action.id} is a {action.channel.value}, not a call")
    _check_seen(session, action, seen)
    if action.state != ActionState.APPROVED:
        raise UsageError(f"call {action.id} is {action.state.value}: not on the call list")
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
            raise UsageError("a promise needs a date")
        promise = add_promise(session, actor, debtor_id, promised_on=promised_on, today=today,
                              amount=amount)
        detail |= {"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                   "amount": str(amount) if amount else None}
    elif outcome is CallOutcome.DISPUTE:
        text = _clean_reason(reason, "a dispute")
        ids = [invoice.id for invoice, _ in current_lines(session, action)
               if invoice.dispute_reason is None]
        if ids:
            open_dispute(session, actor, ids, reason=text, today=today)
        detail |= {"reason": text, "invoices": ids}
    elif outcome is CallOutcome.PAID_ALREADY:
        until = today + dt.timedelta(days=PAID_ALREADY_CHECK_DAYS)
        debtor = locked_debtor(session, debtor_id)
        if debtor.paused_until is None or debtor.paused_until < until:
            pause(session, actor, debtor_id, until=until, today=today,
                  reason="says it paid already: checking")
        add_note(session, actor, debtor_id, f"Call: says it paid already. {note or ''}".strip())
        detail |= {"paused_until": until.isoformat()}
    elif outcome is CallOutcome.NO_ANSWER:
        if retry_on is None or retry_on <= today:
            raise UsageError("no answer needs a retry date after today")
        action.attempts += 1
        action.next_attempt_at = dt.datetime.combine(retry_on, dt.time(), tzinfo=dt.UTC)
        detail |= {"retry_on": retry_on.isoformat(), "attempt": action.attempts}
        if note:
            add_note(session, actor, debtor_id, f"Call, no answer: {note}")
        _audit_action(session, actor, action, "call.outcome", detail)
        return
    elif outcome is CallOutcome.WRONG_NUMBER:
        debtor = locked_debtor(session, debtor_id)
        old = debtor.phone
        debtor.phone = None
        add_note(session, actor, debtor_id,
                 f"Call: wrong number {old or ''}, removed. {note or ''}".strip())
        detail |= {"removed_phone": old}
    if note and outcome in (CallOutcome.PROMISE, CallOutcome.DISPUTE):
        add_note(session, actor, debtor_id, f"Call ({outcome.value.replace('_', ' ')}): {note}")
    action.attempts += 1
    action.output = {**(action.output or {}), "call": detail, "by": actor.name}
    _audit_action(session, actor, action, "call.outcome", detail)


def call_due_before(today: dt.date) -> dt.datetime:
    """Call tasks whose retry time is before this are on today's list."""
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


__all__ = [
    "BulkResult",
    "CallOutcome",
    "Conflict",
    "EscalationDecision",
    "Seen",
    "add_note",
    "add_promise",
    "approve",
    "approve_escalation",
    "approve_many",
    "close_dispute",
    "open_dispute",
    "pause",
    "record_call_outcome",
    "record_payment",
    "refresh_content",
    "reject",
    "reject_many",
    "reset_level",
    "resume",
]
