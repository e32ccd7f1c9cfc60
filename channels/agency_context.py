"""What a message says of the collection firm: nothing before the mandate, everything after.

A firm's workspace sends the reminders of its client companies white label: the context
of a template carries no `agency` entry and no template can print the firm's name. From
the day the firm takes the debtor's case under a creditor's mandate (a `MandateCase`,
opened when the escalation is approved: `engine.mandates`), a message whose invoices
stand at the amicable or litigation stage speaks as the firm. Its context then carries
`agency`: the firm's identity, the mandate and the case's references, the firm's
client-funds account (where the debtor pays from then on), and whether this message is
the firm's first to the debtor on the case (CPCE R124-4: the first letter carries the
mentions `channels.agency_mentions` checks; every later one recalls its reference and
date).

Which message is the first: the first letter or e-mail of the case that went out. The
dispatcher records it on the case when it commits the send (`record_first_letters`,
called by `channels.claims.finish_many` for the sends it commits together); a send
committed another way (an operator's `relance confirm`, a print batch found written
after a crash) is found again by `first_message`: the earliest letter or e-mail of the
debtor marked sent since the case was opened. Its date is the day it was sent (UTC),
the day printed on it when the dispatch runs on the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.channels.agency_law import L111_8_ENGLISH, L111_8_PARAGRAPHS
from relance.engine.mandates import case_under_mandate, cases_under_mandate
from relance.kernel.display import show_date
from relance.kernel.money import locale_for
from relance.kernel.settings import AgencySettings
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Invoice,
    ItemState,
    Mandate,
    MandateCase,
    Stage,
)

# The stages at which the firm, not the creditor, speaks.
FIRM_STAGES = frozenset({Stage.AMICABLE, Stage.LITIGATION})
# The channels that can carry the firm's first letter (an SMS cannot hold R124-4's
# mentions) and whose sending makes a message the first one.
FIRST_LETTER_CHANNELS = frozenset({Channel.LETTER, Channel.EMAIL})


def firm_of(workspace: Any) -> AgencySettings | None:
    """The workspace's collection firm (`[agency]`), None when it has none: then no
    message ever speaks for a firm."""
    settings = getattr(workspace, "settings", None)
    agency = getattr(settings, "agency", None)
    return agency if isinstance(agency, AgencySettings) and agency.configured else None


def message_reference(creditor_code: str, action_id: int) -> str:
    """The reference printed on a message ("Notre référence"), the same for every
    channel: the creditor's code and the action's number."""
    return f"{creditor_code}-{action_id}"


def firm_case(session: Session, action: Action,
              invoice_ids: Sequence[int] | None = None, *,
              case: MandateCase | None = None) -> MandateCase | None:
    """The debtor's case under mandate when this action speaks for the firm: the case
    exists and one of the action's active invoices (or of `invoice_ids`) is at the
    amicable or litigation stage. None: the message stays white label. `case`: the
    debtor's case when the caller already looked it up (`cases_under_mandate`)."""
    case = case or case_under_mandate(session, action.debtor_id)
    if case is None:
        return None
    if invoice_ids is None:
        invoice_ids = [item.invoice_id for item in action.items
                       if item.state == ItemState.ACTIVE]
    if not invoice_ids:
        return None
    escalated = session.scalars(select(Invoice.id).where(
        Invoice.id.in_(list(invoice_ids)), Invoice.stage.in_(list(FIRM_STAGES))).limit(1)
    ).first()
    return case if escalated is not None else None


@dataclass(frozen=True)
class FirstMessage:
    action_id: int
    sent_on: dt.date


def first_message(session: Session, case: MandateCase) -> FirstMessage | None:
    """The firm's first letter or e-mail on the case: as recorded when it was sent, or
    else the earliest letter or e-mail of the debtor sent since the case was opened."""
    if case.first_letter_action_id is not None and case.first_letter_on is not None:
        return FirstMessage(case.first_letter_action_id, case.first_letter_on)
    opened_at = case.created_at or dt.datetime.combine(case.opened_on, dt.time())
    # A message about escalated invoices: not a receipt nor the creditor's notice of a
    # payment (they carry no invoice lines), nor a white-label reminder.
    escalated = (select(ActionItem.id)
                 .join(Invoice, Invoice.id == ActionItem.invoice_id)
                 .where(ActionItem.action_id == Action.id,
                        ActionItem.state == ItemState.ACTIVE,
                        Invoice.stage.in_(list(FIRM_STAGES)))
                 .exists())
    row = session.execute(
        select(Action.id, Action.sent_at)
        .where(Action.debtor_id == case.debtor_id,
               Action.channel.in_(list(FIRST_LETTER_CHANNELS)),
               Action.state == ActionState.SENT,
               Action.sent_at.is_not(None),
               Action.sent_at >= opened_at,
               escalated)
        .order_by(Action.sent_at, Action.id).limit(1)
    ).first()
    if row is None or row.sent_at is None:
        return None
    return FirstMessage(row.id, row.sent_at.date())


def record_first_letter(session: Session, action: Action, sent_on: dt.date) -> bool:
    """Record `action`, sent on `sent_on`, as the firm's first letter on the debtor's
    case when it is one: a letter or e-mail speaking for the firm while the case has no
    first letter yet. True when recorded. Called in the transaction that commits the
    send, so the next message of the case recalls it."""
    if action.channel not in FIRST_LETTER_CHANNELS:
        return False
    case = firm_case(session, action)
    if case is None or case.first_letter_action_id is not None:
        return False
    case.first_letter_action_id = action.id
    case.first_letter_on = sent_on
    return True


def record_first_letters(session: Session, actions: Sequence[Action],
                         sent_on: dt.date) -> set[int]:
    """`record_first_letter` for actions sent together, in their order: one query for
    the cases of their debtors (none in a workspace that is not a firm's, and then
    nothing more), the invoices' stages only for a debtor with a case. Returns the
    actions recorded as their case's first letter."""
    candidates = [a for a in actions if a.channel in FIRST_LETTER_CHANNELS]
    cases = cases_under_mandate(session, (a.debtor_id for a in candidates))
    recorded: set[int] = set()
    for action in candidates:
        case = cases.get(action.debtor_id)
        # In order: a second message of the same case in the batch finds the first.
        if case is None or case.first_letter_action_id is not None:
            continue
        if firm_case(session, action, case=case) is None:
            continue
        case.first_letter_action_id = action.id
        case.first_letter_on = sent_on
        recorded.add(action.id)
    return recorded


def _date_long(day: dt.date, language: str) -> str:
    # As `channels.context.date_text(day, language, "long")`, which imports this module.
    return format_date(day, "long", locale=locale_for(language))


def agency_context(session: Session, action: Action, case: MandateCase,
                   agency: AgencySettings, *, creditor_code: str,
                   language: str) -> dict[str, Any]:
    """The `agency` entry of a firm message's context (plain values for templates)."""
    mandate = session.get(Mandate, case.mandate_id)
    first = first_message(session, case)
    # This message is the first while no other letter or e-mail of the case went out
    # (a re-render of the first letter itself, for a resend, stays the first).
    is_first = first is None or first.action_id == action.id
    iban = "".join((agency.funds_iban or "").split()).upper()
    return {
        "name": agency.name or "",
        "address_lines": list(agency.address_lines),
        "siren": agency.siren or "",
        "email": agency.email or "",
        "phone": agency.phone or "",
        "insurer": agency.insurer or "",
        "insurance_policy": agency.insurance_policy or "",
        "iban": " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)),
        "bic": agency.funds_bic or "",
        "mandate_reference": mandate.reference if mandate is not None else "",
        "case_reference": case.reference,
        "opened_on": _date_long(case.opened_on, language),
        "first": is_first,
        "first_letter_reference": (None if is_first or first is None
                                   else message_reference(creditor_code, first.action_id)),
        "first_letter_date": (None if is_first or first is None
                              else _date_long(first.sent_on, language)),
        "first_letter_date_short": (None if is_first or first is None
                                    else show_date(first.sent_on, language)),
        # CPCE L111-8 paragraphs 2 and 3, reproduced by the first letter (R124-4 5°).
        "law": list(L111_8_PARAGRAPHS),
        "law_english": list(L111_8_ENGLISH),
    }


__all__ = [
    "FIRM_STAGES",
    "FIRST_LETTER_CHANNELS",
    "FirstMessage",
    "agency_context",
    "firm_case",
    "firm_of",
    "first_message",
    "message_reference",
    "record_first_letter",
    "record_first_letters",
]
