"""A small book for the debtor's page: one creditor with late-payment penalties, a
French debtor with two late invoices (a letter and an e-mail queued for them) and an
English debtor with one, whose page must never show the first one's data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from relance.store.db import Store
from tests.channels.factory import TODAY, add_action, add_creditor, add_debtor, add_invoice


@dataclass(frozen=True)
class PortalBook:
    creditor_id: int
    debtor_id: int
    other_debtor_id: int
    email_action_id: int
    letter_action_id: int
    other_letter_action_id: int


def portal_book(store: Store) -> PortalBook:
    with store.transaction() as s:
        creditor = add_creditor(s)
        debtor = add_debtor(s, creditor, "D-0001", name="Boulangerie du Marché")
        other = add_debtor(s, creditor, "D-0002", name="Northern Bakery Ltd",
                           language="en", email="accounts@northern.example")
        first = add_invoice(s, debtor, "FA-2026-0001", 1_500_000, TODAY - dt.timedelta(days=30))
        second = add_invoice(s, debtor, "FA-2026-0114", 223_040,
                             TODAY - dt.timedelta(days=52), paid_minor=23_040)
        theirs = add_invoice(s, other, "FA-2026-0999", 77_700, TODAY - dt.timedelta(days=20))
        email = add_action(s, debtor, [first, second], channel="email", template="relance_1")
        letter = add_action(s, debtor, [first, second], channel="letter", template="relance_2")
        other_letter = add_action(s, other, [theirs], channel="letter", template="relance_2")
        return PortalBook(creditor.id, debtor.id, other.id, email.id, letter.id,
                          other_letter.id)
