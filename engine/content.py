"""What an approval is bound to: a hash of what an action will send.

An operator approves a letter listing these invoices for these amounts to this debtor;
if a payment or a re-import changes any of that before dispatch, the hash changes and
the approval no longer applies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ContentLine:
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
) -> str:
    """A stable SHA-256 over the action's recipient, kind and invoice lines (order-free)."""
    payload = {
        "debtor": debtor_id,
        "channel": channel,
        "template": template,
        "tone": tone,
        "stage": target_stage,
        "lines": sorted((line.invoice_id, line.balance_minor, line.currency) for line in lines),
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()
