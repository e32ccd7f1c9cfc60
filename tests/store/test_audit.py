"""The event log is append-only in the database and tamper-evident in its hashes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from relance.store import audit
from relance.store.db import Store
from relance.store.models import Event, utcnow


def _write_three(store: Store) -> None:
    with store.transaction() as session:
        for n in range(3):
            audit.record(session, actor="alice", kind="payment.recorded",
                         subject_type="invoice", subject_id=f"FA-{n}",
                         data={"amount_minor": 1000 * (n + 1), "note": "virement reçu"})


def test_a_clean_log_verifies(store: Store) -> None:
    _write_three(store)
    with store.session() as session:
        assert audit.verify(session) == []
        events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [e.subject_id for e in events] == ["FA-0", "FA-1", "FA-2"]
    assert events[1].prev_hash == events[0].hash


@pytest.mark.parametrize("statement", [
    "UPDATE event SET actor = 'mallory'",
    "DELETE FROM event",
])
def test_the_database_refuses_to_change_the_log(store: Store, statement: str) -> None:
    _write_three(store)
    with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(text(statement))
    with store.session() as session:
        assert session.scalar(select(text("count(*)")).select_from(Event)) == 3


def test_verify_finds_an_edited_entry() -> None:
    first = Event(id=1, at=utcnow(), actor="a", kind="k", subject_type="s",
                  subject_id="1", data={"x": 1}, prev_hash=audit.GENESIS_HASH, hash="")
    first.hash = audit.entry_hash(first.prev_hash, first.at, "a", "k", "s", "1", {"x": 1})
    second = Event(id=2, at=first.at, actor="a", kind="k", subject_type="s", subject_id="2",
                   data={"x": 2}, prev_hash=first.hash, hash="")
    second.hash = audit.entry_hash(second.prev_hash, second.at, "a", "k", "s", "2", {"x": 2})
    assert audit.verify_chain([first, second]) == []

    second.data = {"x": 999}
    faults = audit.verify_chain([first, second])
    assert [(f.event_id, "edited" in f.problem) for f in faults] == [(2, True)]


def test_verify_finds_a_removed_entry(store: Store) -> None:
    _write_three(store)
    with store.session() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
    faults = audit.verify_chain([events[0], events[2]])
    assert [f.event_id for f in faults] == [events[2].id]
