"""What an approval is bound to: a hash of what an action will send.

An operator approves a letter listing these invoices for these amounts to this debtor;
if a payment or a re-import changes any of that before dispatch, the hash changes and
the approval no longer applies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import NamedTuple

# The key of `Action.output` that says the rule asked for the debtor's account statement
# to go along (`with statement`). It is set when the action is queued: the output record
# is merged, never replaced, so the dispatcher still finds it.
STATEMENT_KEY = "with_statement"


def wants_statement(output: dict[str, object] | None) -> bool:
    """Whether an action's output record asks for the account statement."""
    return bool((output or {}).get(STATEMENT_KEY))


class ContentLine(NamedTuple):
    """One invoice of an action, as hashed. A named tuple: a first run hashes one per
    queued item, and a frozen dataclass's constructor costs twice a tuple's."""

    invoice_id: int
    balance_minor: int
    currency: str


def content_hash(
    *,
    debtor_id: int,
    channel: str,
    template: str | None,
    tone: str | None,
    target_stage: str | None,
    lines: Iterable[ContentLine],
    statement: bool = False,
) -> str:
    """A stable SHA-256 over the action's recipient, kind and invoice lines (order-free),
    and whether the account statement goes along."""
    payload: dict[str, object] = {
        "debtor": debtor_id,
        "channel": channel,
        "template": template,
        "tone": tone,
        "stage": target_stage,
        "lines": sorted((line.invoice_id, line.balance_minor, line.currency) for line in lines),
    }
    if statement:  # absent otherwise: the hashes of actions without it stay as they were
        payload["statement"] = True
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def stale_reason(
    *,
    balance_minor: int,
    is_open: bool,
    paused_until: dt.date | None,
    disputed_since: dt.date | None,
    dispute_open: bool,
    today: dt.date,
    queued_on: dt.date,
    promised_since: dt.date | None = None,
    planned_since: dt.date | None = None,
) -> str | None:
    """Why an invoice queued on `queued_on` must now be left out of its action, if it must.

    Paid: always. Paused: always, since a pause means "stop chasing this debtor" whatever
    the rules said. Disputed, promised (`promised_since`: when the standing promise that
    covers it was recorded) and in a payment plan (`planned_since`: when the plan was
    agreed): only when that was recorded on or after the run that queued it; what the run
    already knew was the rule's to weigh (a rule that does not test `disputed` means to
    write anyway). A dispute of unknown date counts as new, so that doubt never sends a
    letter.
    """
    if balance_minor <= 0 or not is_open:
        return "paid"
    if paused_until is not None and paused_until >= today:
        return "paused"
    if dispute_open and (disputed_since is None or disputed_since >= queued_on):
        return "disputed"
    if promised_since is not None and promised_since >= queued_on:
        return "promised"
    if planned_since is not None and planned_since >= queued_on:
        return "in a payment plan"
    return None
