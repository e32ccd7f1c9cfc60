"""An operator's decision on what a debtor asked on their page (`relance request`).

- Accepting a declared payment records it (`case_payments.record_payment`, allocated to
  the invoices the debtor named, up to their balances; the rest on account) and ends the
  hold it put on the reminders.
- Accepting a plan asked for agrees it (`plans.create_plan`, monthly instalments).
- Refusing either ends the hold; the invoices are chased again by the next run.

Each decision, in the caller's transaction: locks the request (two operators deciding at
once: the second finds it decided), makes the case change with its event, writes its
own event (`portal.request_accepted` / `portal.request_refused`) and queues the e-mail
telling the debtor (`engine.portal_acks`). An operator's reason for refusing stays in
the log: the debtor is told to get in touch, not the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.case_holds import pause, resume
from relance.engine.case_locking import clean_reason, locked_debtor
from relance.engine.case_payments import record_payment
from relance.engine.plans import Every, create_plan
from relance.engine.portal_acks import AckKind, queue_ack
from relance.engine.portal_requests import RequestKind, RequestState
from relance.engine.roles import Actor, require_write
from relance.engine.scope import creditor_ids, require_visible
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import N_, _
from relance.kernel.money import Money
from relance.store import audit, book
from relance.store.models import Debtor, Invoice, PortalRequest, utcnow

ACCEPTED_EVENT = "portal.request_accepted"
REFUSED_EVENT = "portal.request_refused"
# A request no longer open, said when someone decides it again.
_DECIDED = {
    RequestState.ACCEPTED.value: N_("request {id} was already accepted by {who}"),
    RequestState.REFUSED.value: N_("request {id} was already refused by {who}"),
}


@dataclass(frozen=True)
class Decision:
    """What a decision did: the payment recorded or the plan agreed, if any."""

    request: PortalRequest
    payment_id: int | None = None
    plan_id: int | None = None


def _locked_request(session: Session, actor: Actor, request_id: int) -> tuple[
        PortalRequest, Debtor]:
    missing = _("no request {id}").format(id=request_id)
    request = session.scalars(select(PortalRequest).where(PortalRequest.id == request_id)
                              .with_for_update()).one_or_none()
    if request is None:
        raise NotFound(missing)
    debtor = locked_debtor(session, request.debtor_id)
    require_visible(session, actor, debtor.creditor_id, missing)
    if request.state != RequestState.OPEN.value:
        raise UsageError(_(_DECIDED[request.state]).format(id=request_id,
                                                           who=request.decided_by or "?"))
    return request, debtor


def _invoices(session: Session, debtor: Debtor, numbers: list[str]) -> list[Invoice]:
    """The invoices the debtor named, still theirs, oldest due first."""
    return list(session.scalars(select(Invoice).where(
        Invoice.debtor_id == debtor.id, Invoice.number.in_(numbers))
        .order_by(Invoice.due_date, Invoice.id)))


def end_hold(session: Session, actor: Actor, request: PortalRequest, *,
             today: dt.date) -> None:
    """End the pause the request put on the debtor, if it is still the one it set (an
    operator who changed it since decided otherwise); a pause it shortened comes back."""
    hold = (request.data or {}).get("hold")
    if not hold:
        return
    debtor = locked_debtor(session, request.debtor_id, actor)
    if (debtor.pause_reason != hold["reason"] or debtor.paused_until is None
            or debtor.paused_until.isoformat() != hold["until"]
            or debtor.paused_until < today):
        return
    previous = hold.get("previous_until")
    if previous and dt.date.fromisoformat(previous) >= today:
        pause(session, actor, debtor.id, until=dt.date.fromisoformat(previous),
              reason=hold.get("previous_reason") or hold["reason"], today=today)
        return
    resume(session, actor, debtor.id, reason=f"request {request.id} decided", today=today)


def _decided(session: Session, actor: Actor, request: PortalRequest, state: RequestState,
             ) -> None:
    request.state, request.decided_by, request.decided_at = state.value, actor.name, utcnow()
    session.flush()


def accept_request(session: Session, actor: Actor, request_id: int, *, today: dt.date,
                   amount: Money | None = None, received_on: dt.date | None = None,
                   first_on: dt.date | None = None) -> Decision:
    """Accept a request: a declared payment is recorded (`amount`, `received_on`: what
    the bank shows, when it differs from what the debtor declared); a plan is agreed
    (`first_on`: when the first date asked for has passed)."""
    require_write(actor, _("decide a debtor's request"))
    request, debtor = _locked_request(session, actor, request_id)
    data = request.data or {}
    payment_id = plan_id = None
    if request.kind == RequestKind.PAYMENT_DECLARED.value:
        money = amount or Money(str(data["currency"]), int(data["amount_minor"]))
        if money.minor <= 0:
            raise UsageError(_("a payment must be positive"))
        invoices = [i for i in _invoices(session, debtor, list(data.get("invoices", [])))
                    if i.balance_minor > 0 and i.currency == money.currency]
        allocations = book.share_out(invoices, money.minor, money.currency) or None
        reference = " ".join(part for part in (f"portal {request.id}",
                                               str(data.get("reference") or "")) if part)
        payment = record_payment(
            session, actor, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
            amount=money, reference=reference[:200], allocations=allocations,
            received_on=received_on or dt.date.fromisoformat(str(data["paid_on"])),
            today=today)
        payment_id = payment.id
        end_hold(session, actor, request, today=today)
    else:
        invoices = [i for i in _invoices(session, debtor, list(data.get("invoices", [])))
                    if i.balance_minor > 0]
        if not invoices:
            raise UsageError(_("the invoices of request {id} have nothing left to pay")
                             .format(id=request.id))
        plan = create_plan(session, actor, [i.id for i in invoices], today=today,
                           count=int(data["instalments"]),
                           first=first_on or dt.date.fromisoformat(str(data["first_on"])),
                           every=Every(1, "m"))
        plan_id = plan.id
    _decided(session, actor, request, RequestState.ACCEPTED)
    audit.record(session, actor=actor.name, kind=ACCEPTED_EVENT, subject_type="portal_request",
                 subject_id=request.id, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                 data={"request_id": request.id, "request_kind": request.kind,
                       "payment_id": payment_id, "plan_id": plan_id})
    queue_ack(session, debtor, AckKind.REQUEST_ACCEPTED,
              {"request_id": request.id, "request_kind": request.kind,
               "amount_minor": amount.minor if amount else data.get("amount_minor"),
               "currency": amount.currency if amount else data.get("currency"),
               "plan_id": plan_id}, today=today, actor=actor.name)
    return Decision(request, payment_id, plan_id)


def refuse_request(session: Session, actor: Actor, request_id: int, *, reason: str,
                   today: dt.date) -> Decision:
    """Refuse a request, with a reason kept in the log; the hold on the reminders ends."""
    require_write(actor, _("decide a debtor's request"))
    text = clean_reason(reason, _("refusing a request"))
    request, debtor = _locked_request(session, actor, request_id)
    end_hold(session, actor, request, today=today)
    _decided(session, actor, request, RequestState.REFUSED)
    audit.record(session, actor=actor.name, kind=REFUSED_EVENT, subject_type="portal_request",
                 subject_id=request.id, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                 data={"request_id": request.id, "request_kind": request.kind,
                       "reason": text})
    queue_ack(session, debtor, AckKind.REQUEST_REFUSED,
              {"request_id": request.id, "request_kind": request.kind},
              today=today, actor=actor.name)
    return Decision(request)


def requests_of(session: Session, actor: Actor | None, *, state: RequestState | None,
                debtor_id: int | None = None) -> list[tuple[PortalRequest, Debtor]]:
    """The requests the actor may see, oldest first, with their debtors."""
    query = select(PortalRequest, Debtor).join(Debtor, Debtor.id == PortalRequest.debtor_id)
    visible_ids = creditor_ids(session, actor)
    if visible_ids is not None:
        query = query.where(Debtor.creditor_id.in_(visible_ids))
    if state is not None:
        query = query.where(PortalRequest.state == state.value)
    if debtor_id is not None:
        query = query.where(PortalRequest.debtor_id == debtor_id)
    return [(row[0], row[1]) for row in session.execute(query.order_by(PortalRequest.id))]


__all__ = ["ACCEPTED_EVENT", "REFUSED_EVENT", "Decision", "accept_request", "end_hold",
           "refuse_request", "requests_of"]
