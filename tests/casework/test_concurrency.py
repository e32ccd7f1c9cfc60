"""Two operators deciding on the same action at the same moment, on both databases:
one wins, the other is told, and nothing is decided twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select

from relance.engine import casework
from relance.engine.casework import Conflict, Seen
from relance.engine.roles import Actor, Role, load_policy
from relance.store.db import Store
from relance.store.models import Action, ActionState, Approval, Event
from tests.casework.factory import Book


def _race(store: Store, jobs: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _seen(store: Store, action_id: int) -> Seen:
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return Seen.of(action)


def test_approve_and_reject_at_once(store: Store, book: Book) -> None:
    letter = _seen(store, book.actions["letter"])

    def approve() -> object:
        with store.write_transaction() as session:
            return casework.approve(session, Actor("bruno", Role.OPERATOR), letter)

    def reject() -> object:
        with store.write_transaction() as session:
            casework.reject(session, Actor("alice", Role.CREDIT_MANAGER), letter, "doublon")
            return "rejected"

    results = _race(store, [approve, reject])
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    with store.session() as session:
        decisions = session.scalars(select(Approval.decision)).all()
        assert len(decisions) == 1
        assert session.scalar(select(Action.state).where(Action.id == letter.action_id)) in (
            ActionState.APPROVED, ActionState.REJECTED)
        assert len(session.scalars(select(Event)).all()) == 1


def test_two_credit_managers_approve_an_escalation_at_once(store: Store, book: Book) -> None:
    policy = load_policy({"alice": "credit_manager", "david": "credit_manager"},
                         {"four_eyes_above": "5000 EUR"})
    proposal = _seen(store, book.actions["escalate"])

    def approve_as(name: str) -> Callable[[], object]:
        def job() -> object:
            with store.write_transaction() as session:
                return casework.approve_escalation(
                    session, Actor(name, Role.CREDIT_MANAGER), proposal, policy=policy)
        return job

    results = _race(store, [approve_as("alice"), approve_as("david")])
    assert sorted(str(r) for r in results) == ["approved", "awaiting_second"], results
    with store.session() as session:
        action = session.get(Action, proposal.action_id)
        assert action is not None and action.state == ActionState.SENT
        assert sorted(a.user for a in action.approvals) == ["alice", "david"]
