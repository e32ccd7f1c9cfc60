"""The words of a receipt (quittance, CPCE R124-6) and of the creditor's notice of a
payment the firm collected (R124-5).

`relance.store.client_funds` queues both with the facts of the payment on the action
(`Action.output["fund_notice"]`, exact: minor units, ISO days). Here the renderer turns
them into `receipt` in the template's context, formatted in the language the message
is written in, with the firm that received the money (`[agency]`). The creditor's
notice is an e-mail to the creditor's contact address, signed by the firm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.channels.agency_context import firm_of, first_message, message_reference
from relance.channels.context import LetterData, date_text
from relance.channels.reasons import reason
from relance.channels.render import TemplateProblem
from relance.kernel.display import show_money
from relance.kernel.i18n import N_
from relance.kernel.settings import AgencySettings
from relance.store.client_funds import ADDRESSEE_KEY, NOTICE_KEY
from relance.store.models import Action, Creditor, MandateCase


def addressed_to_creditor(action: Action) -> bool:
    """Whether this e-mail goes to the creditor (its notice), not to the debtor."""
    return (action.output or {}).get(ADDRESSEE_KEY) == "creditor"


def message_language(action: Action, debtor_language: str | None) -> str:
    """The language a message is written in: the creditor's for its notice, else the
    debtor's."""
    chosen = (action.output or {}).get("language") if addressed_to_creditor(action) else None
    return str(chosen or debtor_language or "fr")


def creditor_recipient(creditor: Creditor) -> tuple[str, str]:
    """The creditor's contact (name, address) for its notice; refused, with the field to
    fill in, when the creditor has no contact address."""
    if not creditor.contact_email:
        raise TemplateProblem(reason(
            N_("creditor {code} has no contact e-mail address: the notice of a payment the "
               "firm collected cannot be sent (relance creditor edit {code} "
               "--contact-email ...)"), code=creditor.code))
    return creditor.name, creditor.contact_email


def firm_sender(workspace: Any, sender: tuple[str | None, str | None]
                ) -> tuple[tuple[str | None, str | None], str | None]:
    """The (name, address) a creditor's notice comes from, and its reply-to: the firm
    (`[agency]` name and e-mail), which collected the money; `sender` without a firm."""
    agency = firm_of(workspace)
    if agency is None:
        return sender, None
    return (agency.name, agency.email or sender[1]), agency.email


def _firm(agency: AgencySettings | None) -> dict[str, Any] | None:
    if agency is None:
        return None
    return {"name": agency.name, "address_lines": list(agency.address_lines),
            "siren": agency.siren, "email": agency.email, "phone": agency.phone}


def _first_letter(session: Session, case_reference: str, creditor_code: str,
                  language: str) -> dict[str, str] | None:
    """The firm's first letter on the case, which every later message recalls (CPCE
    R124-4): its reference and date, None while none went out."""
    case = session.scalars(select(MandateCase).where(
        MandateCase.reference == case_reference)).one_or_none()
    first = first_message(session, case) if case is not None else None
    if first is None:
        return None
    return {"reference": message_reference(creditor_code, first.action_id),
            "date": date_text(first.sent_on, language, "long")}


def with_fund_notice(session: Session, action: Action, data: LetterData,
                     workspace: Any) -> LetterData:
    """`data` with `receipt` added when the action is a receipt or a notice of a payment
    the firm collected; unchanged otherwise."""
    facts = (action.output or {}).get(NOTICE_KEY)
    if not facts:
        return data
    language = message_language(action, str(data.context.get("language") or "fr"))
    currency = str(facts["currency"])

    def money(minor: int) -> str:
        return show_money(int(minor), currency, language)

    received = dt.date.fromisoformat(str(facts["received_on"]))
    opened = dt.date.fromisoformat(str(facts["case_opened_on"]))
    on_account = int(facts.get("on_account_minor") or 0)
    receipt = {
        "amount": money(facts["amount_minor"]),
        "amount_minor": int(facts["amount_minor"]),
        "currency": currency,
        "received_on": date_text(received, language, "long"),
        "reference": str(facts.get("reference") or ""),
        "paid": [{"number": str(p["number"]), "amount": money(p["amount_minor"]),
                  "balance_after": money(p["balance_after_minor"]),
                  "settled": int(p["balance_after_minor"]) <= 0}
                 for p in facts.get("paid", [])],
        "on_account": money(on_account) if on_account else None,
        "still_owed": money(facts["still_owed_minor"]),
        "still_owed_minor": int(facts["still_owed_minor"]),
        "case_reference": str(facts["case_reference"]),
        "case_opened_on": date_text(opened, language, "long"),
        "mandate_reference": str(facts["mandate_reference"]),
        "firm": _firm(firm_of(workspace)),
        "first_letter": _first_letter(session, str(facts["case_reference"]),
                                      str(data.context["creditor"]["code"]), language),
    }
    context = {**data.context, "receipt": receipt, "language": language}
    return LetterData(context=context, invoice_ids=data.invoice_ids,
                      totals_minor=data.totals_minor)


__all__ = ["addressed_to_creditor", "creditor_recipient", "firm_sender",
           "message_language", "with_fund_notice"]
