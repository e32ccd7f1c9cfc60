"""The campaign's book: approved actions on the three channels, each with a token the
receiving side can recognise, and the reading of outcomes afterwards."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from relance.channels.in_doubt import uncertain_sends
from relance.channels.mail import message_id
from relance.store.db import Store
from relance.store.models import Action, Event
from tests.channels.factory import TODAY, add_action, add_creditor, add_debtor, add_invoice

CHANNELS = ("letter", "email", "sms")
MAIL_DOMAIN = "acme-distribution.fr"  # the creditor's address domain: the Message-IDs'
# The reference a letter prints once, on its first page; debtor references carry the
# round so that a letter from one round never counts in another.
REF_PATTERN = re.compile(r"référence client : ([LES]\d{2}-\d{5})\b")


@dataclass(frozen=True)
class Sizes:
    letter: int = 0
    email: int = 0
    sms: int = 0

    def of(self, channel: str) -> int:
        return int(getattr(self, channel))


def phone(round_number: int, k: int) -> str:
    """A distinct valid French mobile number per SMS action (E.164)."""
    return f"+3361{round_number % 100:02d}{k:05d}"


def add_book(store: Store, sizes: Sizes, round_number: int) -> dict[str, dict[int, str]]:
    """Approved actions, `sizes` per channel; returns channel -> action id -> token."""
    tokens: dict[str, dict[int, str]] = {c: {} for c in CHANNELS}
    templates = {"letter": "relance_2", "email": "rappel", "sms": "relance_1"}
    with store.transaction() as session:
        creditor = add_creditor(session)
        # Channels interleaved by id: each claimed group mixes letters, e-mails and SMS,
        # so a kill can land in any channel's step.
        for k in range(max(sizes.of(c) for c in CHANNELS)):
            for channel in CHANNELS:
                if k >= sizes.of(channel):
                    continue
                ref = f"{channel[0].upper()}{round_number % 100:02d}-{k:05d}"
                debtor = add_debtor(session, creditor, ref, phone=phone(round_number, k))
                invoice = add_invoice(session, debtor, f"F{ref}", 10_000 + k,
                                      TODAY - dt.timedelta(days=9))
                action = add_action(session, debtor, [invoice], channel=channel,
                                    template=templates[channel])
                tokens[channel][action.id] = {
                    "letter": ref,
                    "email": message_id(action.idempotency_key, MAIL_DOMAIN),
                    "sms": phone(round_number, k),
                }[channel]
    return tokens


def final_states(store: Store) -> dict[int, str]:
    with store.transaction() as session:
        return {a.id: str(a.state) for a in session.scalars(select(Action))}


def listed_uncertain(store: Store) -> set[int]:
    """What `relance uncertain` shows, through the function behind it."""
    return {int(entry["action"]) for entry in uncertain_sends(store)}


def recoveries(store: Store) -> Counter[str]:
    """How the actions dead dispatchers left in flight were settled by the next one
    (recovery's events name the claimant): released, sent (a letter's batch on disk),
    uncertain."""
    with store.transaction() as session:
        events = session.scalars(select(Event).where(Event.kind.in_(
            ["action.released", "action.sent", "action.uncertain"]))).all()
        return Counter(e.kind.removeprefix("action.") for e in events
                       if "claimed_by" in (e.data or {}))


def letters_in_batches(outbox: Path) -> Counter[str]:
    """How many times each debtor reference is printed as a letter's reference across
    the print batches on disk: a letter in two batches (or twice in one) counts twice."""
    from pypdf import PdfReader

    seen: Counter[str] = Counter()
    for batch in sorted(outbox.glob("letters/*/batch-*.pdf")):
        for page in PdfReader(str(batch)).pages:
            refs = set(REF_PATTERN.findall(page.extract_text() or ""))
            seen.update(refs)
    return seen
