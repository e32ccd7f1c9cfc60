"""The words of the e-mail that acknowledges what a debtor did on their page, or tells
them what was decided on their request (`relance.engine.portal_acks` queues it).

The facts are stored on the action, exact (minor units, ISO days, invoice numbers);
here they become `ack` in the template's context, formatted in the language the
message is written in (the debtor's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from relance.channels.context import LetterData, date_text
from relance.engine.portal_acks import ACK_KEY
from relance.engine.portal_requests import reason_word
from relance.kernel.display import show_money
from relance.kernel.i18n import using_language
from relance.store.models import Action


def _day(value: Any, language: str) -> str | None:
    return date_text(dt.date.fromisoformat(str(value)), language, "long") if value else None


def ack_context(facts: dict[str, Any], language: str) -> dict[str, Any]:
    """The facts of an acknowledgement as the template shows them."""
    currency = facts.get("currency")
    amount = facts.get("amount_minor")
    with using_language(language):
        reason = reason_word(str(facts["reason"])) if facts.get("reason") else None
        money = (show_money(int(amount), str(currency), language)
                 if amount is not None and currency else None)
    invoices = [str(number) for number in facts.get("invoices", [])]
    return {
        "kind": str(facts["kind"]),
        "request_kind": facts.get("request_kind"),
        "request_id": facts.get("request_id"),
        "invoices": invoices,
        "invoices_text": ", ".join(invoices),
        "invoice_count": len(invoices),
        "promised_on": _day(facts.get("promised_on"), language),
        "paid_on": _day(facts.get("paid_on"), language),
        "first_on": _day(facts.get("first_on"), language),
        "instalments": facts.get("instalments"),
        "amount": money,
        "reason": reason,
    }


def with_portal_ack(action: Action, data: LetterData) -> LetterData:
    """`data` with `ack` added when the action acknowledges a debtor's doing; unchanged
    otherwise."""
    facts = (action.output or {}).get(ACK_KEY)
    if not facts:
        return data
    language = str(data.context.get("language") or "fr")
    context = {**data.context, "ack": ack_context(facts, language)}
    return LetterData(context=context, invoice_ids=data.invoice_ids,
                      totals_minor=data.totals_minor)


__all__ = ["ack_context", "with_portal_ack"]
