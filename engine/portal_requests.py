"""What a debtor does on their page (`relance web`): promise a date, dispute invoices,
declare a payment already made, ask for a payment plan.

A promise and a dispute are the case changes operators make (`case_holds.add_promise`,
`case_holds.open_dispute`), made by the debtor: the actor is `debtor:REF`, allowed to
see only its own creditor's rows and, checked here, only its own invoices. A declared
payment and a plan asked for are requests (`PortalRequest`) an operator decides
(`engine.portal_decisions`). While a declared payment waits, the debtor is paused
(`case_holds.pause`, for `hold_days`), so that nobody is chased for money that may
already be on its way; a pause that lasts longer already stays as it is.

Each function, in the caller's transaction: checks what the debtor typed (refusals are
worded for the debtor, in the language being spoken), makes the change with its event,
settles the queue (through the case change it calls, or the pause) and queues the
acknowledgement e-mail (`engine.portal_acks`). The caller commits once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine.case_holds import (
    DEFAULT_DISPUTE_REASONS,
    add_promise,
    dispute_reasons,
    open_dispute,
    pause,
)
from relance.engine.case_locking import locked_debtor
from relance.engine.portal_acks import AckKind, queue_ack
from relance.engine.roles import Actor, Role
from relance.engine.typed_input import parse_money
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import N_, _
from relance.store import audit
from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    PaymentPlan,
    PaymentPlanInvoice,
    PlanStatus,
    PortalRequest,
    Promise,
    PromiseStatus,
)
from relance.store.states import RequestKind as RequestKind  # with the book's kinds
from relance.store.states import RequestState as RequestState

DECLARED_EVENT = "portal.payment_declared"
PLAN_ASKED_EVENT = "portal.plan_requested"
# How long a declared payment holds the reminders while an operator checks it.
HOLD_DAYS = 15
MAX_PLAN_INSTALMENTS = 12
MESSAGE_MAX_CHARS = 2000
REFERENCE_MAX_CHARS = 140
# A payment declared as made longer ago than this is a typing error.
DECLARED_MAX_AGE_DAYS = 366
# The default reasons as a debtor reads them; a workspace's own words show as written.
REASON_WORDS = {
    "quality": N_("the quality of the goods or the service"),
    "delivery": N_("the delivery (missing, late, incomplete)"),
    "price": N_("the price or the amount invoiced"),
    "not_ordered": N_("not ordered"),
    "other": N_("another reason"),
}


def reason_word(reason: str) -> str:
    """A dispute reason in the words of the language being spoken."""
    return _(REASON_WORDS[reason]) if reason in REASON_WORDS else reason


def debtor_actor(session: Session, debtor: Debtor) -> Actor:
    """The debtor acting on their page: `debtor:REF`, who may change their own case and
    sees no other creditor's rows (engine/scope.py)."""
    creditor = session.get(Creditor, debtor.creditor_id)
    assert creditor is not None  # a foreign key
    return Actor(f"debtor:{debtor.ref}", Role.OPERATOR, frozenset({creditor.code}))


def clean_text(text: str | None, what: str, *, most: int, required: bool) -> str:
    """Free text typed on the page, kept as typed (it is escaped wherever shown); refused
    when blank but required, too long, or carrying control characters (a NUL that
    PostgreSQL refuses, a terminal escape meant for the operators' screens)."""
    value = (text or "").strip()
    if required and not value:
        raise UsageError(_("{what}: please fill it in").format(what=what))
    if len(value) > most:
        raise UsageError(_("{what}: at most {count} characters").format(what=what, count=most))
    if any((ord(c) < 32 and c not in "\n\t\r") or 127 <= ord(c) < 160 for c in value):
        raise UsageError(_("{what}: remove the control characters").format(what=what))
    return value


def open_invoices(session: Session, debtor_id: int) -> list[Invoice]:
    """The debtor's invoices still owed, oldest due first: what the page offers."""
    return list(session.scalars(
        select(Invoice).where(Invoice.debtor_id == debtor_id, Invoice.balance_minor > 0,
                              Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)))


def named_invoices(session: Session, debtor_id: int, numbers: Sequence[str], *,
                   all_when_none: bool) -> list[Invoice]:
    """The debtor's open invoices numbered `numbers`, oldest due first; none named: all
    of them when `all_when_none`. A number not among them is refused in the same words
    whether it is another debtor's, paid or unknown: the page reveals nothing else."""
    owed = open_invoices(session, debtor_id)
    if not numbers:
        if not all_when_none:
            raise UsageError(_("choose at least one invoice"))
        if not owed:
            raise UsageError(_("nothing is left to pay on your account"))
        return owed
    by_number = {invoice.number: invoice for invoice in owed}
    for number in numbers:
        if number not in by_number:
            raise NotFound(_("invoice {number} is not among your invoices to pay").format(
                number=number[:80]))
    wanted = set(numbers)
    return [invoice for invoice in owed if invoice.number in wanted]


def _one_currency(invoices: Sequence[Invoice]) -> str:
    currencies = {invoice.currency for invoice in invoices}
    if len(currencies) != 1:
        raise UsageError(_("choose invoices in one currency"))
    return currencies.pop()


def _numbers(invoices: Sequence[Invoice]) -> list[str]:
    return [invoice.number for invoice in invoices]


def promise_from_portal(session: Session, debtor_id: int, *, promised_on: dt.date,
                        today: dt.date, max_days: int,
                        invoice_numbers: Sequence[str] = ()) -> Promise:
    """The debtor promises to pay what they owe (or the invoices named) by
    `promised_on`, at most `max_days` ahead (`[web] promise_max_days`). One promise
    stands at a time: a new date is asked of an operator, not set from the page."""
    debtor = locked_debtor(session, debtor_id)
    latest = today + dt.timedelta(days=max_days)
    if promised_on < today:
        raise UsageError(_("a promise must be for today or later, not {day}").format(
            day=show_date(promised_on)))
    if promised_on > latest:
        raise UsageError(_("a promise can be for {day} at the latest").format(
            day=show_date(latest)))
    standing = session.scalars(select(Promise.promised_on).where(
        Promise.debtor_id == debtor.id, Promise.status == PromiseStatus.OPEN,
        Promise.promised_on >= today).order_by(Promise.promised_on.desc())).first()
    if standing is not None:
        raise UsageError(_("you already promised to pay by {day}; to change it, please "
                           "write to us").format(day=show_date(standing)))
    invoices = named_invoices(session, debtor.id, invoice_numbers, all_when_none=True)
    actor = debtor_actor(session, debtor)
    # None: one promise covering whatever the debtor owes.
    targets: list[int | None] = [i.id for i in invoices] if invoice_numbers else [None]
    promises = [add_promise(session, actor, debtor.id, promised_on=promised_on, today=today,
                            invoice_id=target) for target in targets]
    queue_ack(session, debtor, AckKind.PROMISE,
              {"promised_on": promised_on.isoformat(), "invoices": _numbers(invoices)},
              today=today, actor=actor.name)
    return promises[0]


def dispute_from_portal(session: Session, debtor_id: int, *,
                        invoice_numbers: Sequence[str], reason: str, message: str,
                        reasons: Sequence[str], today: dt.date) -> list[Invoice]:
    """The debtor disputes invoices, with one of `reasons` (`[disputes] reasons`) and a
    message; reminders about them stop until an operator closes the dispute."""
    debtor = locked_debtor(session, debtor_id)
    if reason not in reasons:
        raise UsageError(_("choose one of the reasons offered"))
    text = clean_text(message, _("your message"), most=MESSAGE_MAX_CHARS, required=True)
    invoices = named_invoices(session, debtor.id, invoice_numbers, all_when_none=False)
    for invoice in invoices:
        if invoice.dispute_reason is not None:
            # Not the reason recorded: an operator may have written it for colleagues.
            raise UsageError(_("invoice {number} is already disputed: we are looking into "
                               "it").format(number=invoice.number))
    actor = debtor_actor(session, debtor)
    open_dispute(session, actor, [invoice.id for invoice in invoices],
                 reason=f"{reason}: {text}", today=today)
    queue_ack(session, debtor, AckKind.DISPUTE,
              {"invoices": _numbers(invoices), "reason": reason}, today=today,
              actor=actor.name)
    return invoices


def _no_open_request(session: Session, debtor_id: int, kind: RequestKind) -> None:
    since = session.scalars(select(PortalRequest.created_at).where(
        PortalRequest.debtor_id == debtor_id, PortalRequest.kind == kind.value,
        PortalRequest.state == RequestState.OPEN.value)).first()
    if since is None:
        return
    day = show_date(since.date())
    if kind is RequestKind.PAYMENT_DECLARED:
        raise UsageError(_("the payment you declared on {day} is being checked; we will "
                           "write to you").format(day=day))
    raise UsageError(_("the payment plan you asked for on {day} is being considered; we "
                       "will write to you").format(day=day))


def _record(session: Session, debtor: Debtor, actor: Actor, request: PortalRequest,
            event: str, data: dict[str, Any]) -> None:
    audit.record(session, actor=actor.name, kind=event, subject_type="portal_request",
                 subject_id=request.id, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                 data={"request_id": request.id, **data})


def hold_reason(request_id: int) -> str:
    """The pause's reason while a declared payment is checked: data, not for the
    debtor; a decision ends the pause only while it still says this."""
    return f"payment declared on the debtor's page (request {request_id})"


def _hold(session: Session, actor: Actor, debtor: Debtor, request: PortalRequest, *,
          today: dt.date, hold_days: int) -> dict[str, Any] | None:
    until = today + dt.timedelta(days=hold_days)
    if debtor.paused_until is not None and debtor.paused_until >= until:
        return None  # paused longer already: nothing to hold, nothing to end later
    previous = debtor.paused_until if debtor.paused_until and debtor.paused_until >= today \
        else None
    hold = {"until": until.isoformat(), "reason": hold_reason(request.id),
            "previous_until": previous.isoformat() if previous else None,
            "previous_reason": debtor.pause_reason if previous else None}
    pause(session, actor, debtor.id, until=until, reason=hold["reason"] or "", today=today)
    return hold


def declare_payment(session: Session, debtor_id: int, *, amount_text: str,
                    paid_on: dt.date, today: dt.date, invoice_numbers: Sequence[str] = (),
                    reference: str = "", proof_path: str | None = None,
                    link_id: int | None = None, hold_days: int = HOLD_DAYS
                    ) -> PortalRequest:
    """The debtor says they paid `amount_text` on `paid_on` (for the invoices named, or
    what they owe): a request an operator accepts (the payment is recorded) or refuses.
    The reminders wait meanwhile (a pause of `hold_days`)."""
    debtor = locked_debtor(session, debtor_id)
    _no_open_request(session, debtor.id, RequestKind.PAYMENT_DECLARED)
    invoices = named_invoices(session, debtor.id, invoice_numbers, all_when_none=True)
    currency = _one_currency(invoices)
    if len(amount_text) > 40:
        raise UsageError(_("the amount is not a number"))
    amount = parse_money(amount_text, currency, what=_("amount"))
    owed = sum(invoice.balance_minor for invoice in invoices)
    if amount.minor <= 0:
        raise UsageError(_("the amount must be more than zero"))
    if amount.minor > owed:
        raise UsageError(_("the amount is more than the invoices owe ({owed}): please check "
                           "it").format(owed=show_money(owed, currency)))
    if paid_on > today:
        raise UsageError(_("a payment already made cannot be dated after today"))
    if paid_on < today - dt.timedelta(days=DECLARED_MAX_AGE_DAYS):
        raise UsageError(_("a payment made on {day}? Please check the date").format(
            day=show_date(paid_on)))
    ref = clean_text(reference, _("reference"), most=REFERENCE_MAX_CHARS, required=False)
    actor = debtor_actor(session, debtor)
    request = PortalRequest(
        debtor_id=debtor.id, link_id=link_id, kind=RequestKind.PAYMENT_DECLARED.value,
        data={"amount_minor": amount.minor, "currency": currency,
              "paid_on": paid_on.isoformat(), "invoices": _numbers(invoices),
              "reference": ref},
        proof_path=proof_path, state=RequestState.OPEN.value)
    session.add(request)
    session.flush()
    _record(session, debtor, actor, request, DECLARED_EVENT,
            {"amount_minor": amount.minor, "currency": currency,
             "paid_on": paid_on.isoformat(), "invoices": _numbers(invoices),
             "reference": ref, "proof": proof_path is not None})
    hold = _hold(session, actor, debtor, request, today=today, hold_days=hold_days)
    request.data = {**request.data, "hold": hold}
    queue_ack(session, debtor, AckKind.PAYMENT_DECLARED,
              {"request_id": request.id, "amount_minor": amount.minor, "currency": currency,
               "paid_on": paid_on.isoformat(), "invoices": _numbers(invoices)},
              today=today, actor=actor.name)
    session.flush()
    return request


def request_plan(session: Session, debtor_id: int, *, instalments: int, first_on: dt.date,
                 today: dt.date, max_days: int, invoice_numbers: Sequence[str] = (),
                 link_id: int | None = None,
                 max_instalments: int = MAX_PLAN_INSTALMENTS) -> PortalRequest:
    """The debtor asks to pay what they owe (or the invoices named) in `instalments`
    monthly instalments from `first_on`; an operator agrees the plan or refuses."""
    debtor = locked_debtor(session, debtor_id)
    _no_open_request(session, debtor.id, RequestKind.PLAN_REQUESTED)
    if not 2 <= instalments <= max_instalments:
        raise UsageError(_("choose between 2 and {most} instalments").format(
            most=max_instalments))
    latest = today + dt.timedelta(days=max_days)
    if not today <= first_on <= latest:
        raise UsageError(_("the first instalment must fall between {first} and {last}")
                         .format(first=show_date(today), last=show_date(latest)))
    invoices = named_invoices(session, debtor.id, invoice_numbers, all_when_none=True)
    currency = _one_currency(invoices)
    in_plan = session.scalars(
        select(Invoice.number).join(PaymentPlanInvoice,
                                    PaymentPlanInvoice.invoice_id == Invoice.id)
        .join(PaymentPlan, PaymentPlan.id == PaymentPlanInvoice.plan_id)
        .where(Invoice.id.in_([i.id for i in invoices]),
               PaymentPlan.status == PlanStatus.ACTIVE)).first()
    if in_plan is not None:
        raise UsageError(_("invoice {number} is already in a payment plan").format(
            number=in_plan))
    total = sum(invoice.balance_minor for invoice in invoices)
    actor = debtor_actor(session, debtor)
    request = PortalRequest(
        debtor_id=debtor.id, link_id=link_id, kind=RequestKind.PLAN_REQUESTED.value,
        data={"instalments": instalments, "first_on": first_on.isoformat(),
              "invoices": _numbers(invoices), "currency": currency, "total_minor": total},
        state=RequestState.OPEN.value)
    session.add(request)
    session.flush()
    _record(session, debtor, actor, request, PLAN_ASKED_EVENT,
            {"instalments": instalments, "first_on": first_on.isoformat(),
             "invoices": _numbers(invoices), "amount_minor": total, "currency": currency})
    queue_ack(session, debtor, AckKind.PLAN_REQUESTED,
              {"request_id": request.id, "instalments": instalments,
               "first_on": first_on.isoformat(), "invoices": _numbers(invoices),
               "amount_minor": total, "currency": currency},
              today=today, actor=actor.name)
    return request


__all__ = [
    "DECLARED_EVENT",
    "DEFAULT_DISPUTE_REASONS",
    "HOLD_DAYS",
    "MAX_PLAN_INSTALMENTS",
    "PLAN_ASKED_EVENT",
    "RequestKind",
    "RequestState",
    "clean_text",
    "debtor_actor",
    "declare_payment",
    "dispute_from_portal",
    "dispute_reasons",
    "hold_reason",
    "named_invoices",
    "open_invoices",
    "promise_from_portal",
    "reason_word",
    "request_plan",
]
