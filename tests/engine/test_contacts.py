"""`log_call`: a call said on the portal is a note of the case with its event, in the
caller's transaction, within the person's scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from relance.engine.contacts import log_call
from relance.engine.roles import Actor, NotAllowed, Role
from relance.engine.scope import NotVisible
from relance.kernel.errors import NotFound, UsageError
from relance.store.db import Store
from relance.store.models import Event, Note
from tests.channels.factory import TODAY
from tests.web.portal_book import PAUL_NAME, SOFIA_NAME, portal_pages_book

SOFIA = Actor("sofia", Role.SALES_REP, sales_rep=SOFIA_NAME)


def test_a_call_is_a_note_with_its_event(store: Store) -> None:
    book = portal_pages_book(store)
    with store.transaction() as s:
        note = log_call(s, SOFIA, book.sofia_debtor, "  Virement promis vendredi ", TODAY)
    with store.session() as s:
        kept = s.get(Note, note.id)
        assert kept is not None and kept.body == "Virement promis vendredi"
        assert kept.author == "sofia" and kept.debtor_id == book.sofia_debtor
        event = s.scalars(select(Event).where(Event.kind == "note.added")).one()
        assert event.actor == "sofia" and event.debtor_id == book.sofia_debtor
        assert event.data == {"note_id": note.id, "body": "Virement promis vendredi",
                              "contact": "call", "called_on": TODAY.isoformat()}


def test_a_call_is_refused_outside_the_scope_and_to_an_auditor(store: Store) -> None:
    book = portal_pages_book(store)
    refusals: list[tuple[Actor, int, str, type[Exception]]] = [
        (SOFIA, book.paul_debtor, "appelé", NotFound),  # Paul's customer
        (Actor("paul", Role.SALES_REP, sales_rep=PAUL_NAME), book.sofia_debtor, "appelé",
         NotFound),
        (Actor("acme", Role.CLIENT, creditors=frozenset({"ACME"})), book.sofia_other,
         "appelé", NotVisible),  # BELLEROSE's
        (Actor("audrey", Role.AUDITOR), book.sofia_debtor, "appelé", NotAllowed),
        (SOFIA, book.sofia_debtor, "   ", UsageError),
        (SOFIA, book.sofia_debtor, "x" * 4001, UsageError),
    ]
    for actor, debtor_id, summary, refusal in refusals:
        with pytest.raises(refusal), store.transaction() as s:
            log_call(s, actor, debtor_id, summary, TODAY)
    with store.session() as s:
        assert s.scalars(select(Note)).all() == []
        assert s.scalars(select(Event)).all() == []
