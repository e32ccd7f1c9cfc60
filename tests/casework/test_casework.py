"""Operators' changes on both databases: each writes its event, a concurrent change by
someone else is reported and never overwritten, roles and four eyes hold."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from relance.engine import casework
from relance.engine.casework import CallOutcome, Conflict, EscalationDecision, Seen
from relance.engine.roles import Actor, NotAllowed, Policy, Role, load_policy
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.money import Money
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Debtor,
    Event,
    Invoice,
    InvoiceLevel,
    Note,
    Promise,
    Stage,
)
from tests.casework.factory import TODAY, Book

ALICE = Actor("alice", Role.CREDIT_MANAGER)
BRUNO = Actor("bruno", Role.OPERATOR)
CARLA = Actor("carla", Role.AUDITOR)
DAVID = Actor("david", Role.CREDIT_MANAGER)
FOUR_EYES = load_policy({"alice": "credit_manager", "david": "credit_manager"},
                        {"four_eyes_above": "5000 EUR"})


def seen(store: Store, action_id: int) -> Seen:
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return Seen.of(action)


def action_of(store: Store, action_id: int) -> Action:
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return action


def kinds(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Event.kind).order_by(Event.id)))


def test_approve_records_who_and_the_hash(store: Store, book: Book) -> None:
    letter = seen(store, book.actions["letter"])
    with store.write_transaction() as session:
        assert casework.approve(session, BRUNO, letter) == ActionState.APPROVED
    action = action_of(store, letter.action_id)
    assert (action.state, action.approved_by) == (ActionState.APPROVED, "bruno")
    with store.session() as session:
        approval = session.scalars(select(Approval)).one()
    assert (approval.user, approval.content_hash) == ("bruno", letter.content_hash)
    assert kinds(store) == ["action.approved"]


def test_a_change_by_someone_else_is_a_conflict_not_an_overwrite(store: Store,
                                                                  book: Book) -> None:
    letter = seen(store, book.actions["letter"])  # both operators loaded the queue
    with store.write_transaction() as session:
        casework.reject(session, ALICE, letter, "client en redressement")
    with pytest.raises(Conflict, match="now rejected \\(alice changed it"), \
            store.write_transaction() as session:
        casework.approve(session, BRUNO, letter)
    assert action_of(store, letter.action_id).state == ActionState.REJECTED
    assert kinds(store) == ["action.rejected"]


def test_changed_content_is_a_conflict(store: Store, book: Book) -> None:
    letter = seen(store, book.actions["letter"])
    stale = Seen(letter.action_id, letter.state, "0" * 64)
    with pytest.raises(Conflict, match="changed since you saw it"), \
            store.write_transaction() as session:
        casework.approve(session, BRUNO, stale)


def test_bulk_approve_skips_and_reports_conflicts(store: Store, book: Book) -> None:
    both = [seen(store, book.actions["letter"]), seen(store, book.actions["email"])]
    with store.write_transaction() as session:
        casework.approve(session, ALICE, both[1])
    with store.write_transaction() as session:
        result = casework.approve_many(session, BRUNO, both)
    assert result.done == [book.actions["letter"]]
    assert [c.action_id for c in result.conflicts] == [book.actions["email"]]
    assert action_of(store, book.actions["email"]).approved_by == "alice"


def test_reject_needs_a_reason_and_records_it(store: Store, book: Book) -> None:
    letter = seen(store, book.actions["letter"])
    with pytest.raises(UsageError, match="needs a reason"), \
            store.write_transaction() as session:
        casework.reject(session, BRUNO, letter, "  ")
    with store.write_transaction() as session:
        result = casework.reject_many(session, BRUNO, [letter], "doublon")
    assert result.done == [letter.action_id]
    with store.session() as session:
        event = session.scalars(select(Event)).one()
    assert event.data["reason"] == "doublon" and event.actor == "bruno"


def test_an_auditor_changes_nothing(store: Store, book: Book) -> None:
    letter = seen(store, book.actions["letter"])
    with pytest.raises(NotAllowed, match="auditor"), store.write_transaction() as session:
        casework.approve(session, CARLA, letter)
    with pytest.raises(NotAllowed), store.write_transaction() as session:
        casework.add_note(session, CARLA, book.debtors["F-0001"], "hello")
    assert kinds(store) == []


def test_only_a_credit_manager_decides_escalations(store: Store, book: Book) -> None:
    proposal = seen(store, book.actions["escalate"])
    with pytest.raises(NotAllowed, match="only a credit manager"), \
            store.write_transaction() as session:
        casework.approve(session, BRUNO, proposal, policy=FOUR_EYES)
    with pytest.raises(NotAllowed), store.write_transaction() as session:
        casework.reject(session, BRUNO, proposal, "trop tôt")


def test_four_eyes_above_the_threshold(store: Store, book: Book) -> None:
    proposal = seen(store, book.actions["escalate"])  # 7 200.00 EUR > 5 000 EUR
    with store.write_transaction() as session:
        decision = casework.approve_escalation(session, ALICE, proposal, policy=FOUR_EYES)
    assert decision == EscalationDecision.AWAITING_SECOND
    assert action_of(store, proposal.action_id).state == ActionState.PROPOSED
    with pytest.raises(NotAllowed, match="already approved"), \
            store.write_transaction() as session:
        casework.approve_escalation(session, ALICE, proposal, policy=FOUR_EYES)
    with store.write_transaction() as session:
        decision = casework.approve_escalation(session, DAVID, proposal, policy=FOUR_EYES)
    assert decision == EscalationDecision.APPROVED
    action = action_of(store, proposal.action_id)
    assert (action.state, action.approved_by) == (ActionState.SENT, "alice, david")
    with store.session() as session:
        invoice = session.get(Invoice, book.invoices["FA-4"])
        assert invoice is not None and invoice.stage == Stage.AMICABLE
    assert kinds(store) == ["escalation.first_approval", "escalation.approved"]


def test_one_approval_below_the_threshold(store: Store, book: Book) -> None:
    policy = load_policy({}, {"four_eyes_above": "10000 EUR"})
    proposal = seen(store, book.actions["escalate"])
    with store.write_transaction() as session:
        decision = casework.approve_escalation(session, ALICE, proposal, policy=policy)
    assert decision == EscalationDecision.APPROVED


def test_the_proposer_cannot_approve(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        action = session.get(Action, book.actions["escalate"])
        assert action is not None
        action.proposed_by = "alice"
    with pytest.raises(NotAllowed, match="proposed"), store.write_transaction() as session:
        casework.approve_escalation(session, ALICE, seen(store, book.actions["escalate"]),
                                    policy=Policy())


def test_a_payment_voids_a_first_approval(store: Store, book: Book) -> None:
    proposal = seen(store, book.actions["escalate"])
    with store.write_transaction() as session:
        casework.approve_escalation(session, ALICE, proposal, policy=FOUR_EYES)
        casework.record_payment(session, BRUNO, creditor_id=book.creditor_id,
                                debtor_id=book.debtors["F-0003"],
                                amount=Money.of("100", "EUR"), received_on=TODAY, reference="")
    # The payment settled the proposal at once: the amounts it escalates are the new ones.
    with pytest.raises(Conflict, match="changed since you saw it"), \
            store.write_transaction() as session:
        casework.approve_escalation(session, DAVID, proposal, policy=FOUR_EYES)
    with store.write_transaction() as session:
        assert not casework.refresh_content(session, proposal.action_id, today=TODAY)
    fresh = seen(store, proposal.action_id)
    assert fresh.content_hash != proposal.content_hash
    with store.write_transaction() as session:  # alice's approval saw the old amount
        decision = casework.approve_escalation(session, DAVID, fresh, policy=FOUR_EYES)
    assert decision == EscalationDecision.AWAITING_SECOND


def test_pause_and_resume(store: Store, book: Book) -> None:
    lyon = book.debtors["F-0001"]
    with store.write_transaction() as session:
        casework.pause(session, BRUNO, lyon, until=dt.date(2026, 12, 31),
                       reason="accord du directeur", today=TODAY, seen_paused_until=None)
    with pytest.raises(Conflict, match="changed meanwhile"), \
            store.write_transaction() as session:
        casework.pause(session, ALICE, lyon, until=dt.date(2027, 1, 31), reason="x",
                       today=TODAY, seen_paused_until=None)
    with store.session() as session:
        debtor = session.get(Debtor, lyon)
        assert debtor is not None
        assert (debtor.paused_until, debtor.pause_reason) == (
            dt.date(2026, 12, 31), "accord du directeur")
    with store.write_transaction() as session:
        casework.resume(session, BRUNO, lyon, reason="fin de l'accord", today=TODAY)
    with store.session() as session:
        debtor = session.get(Debtor, lyon)
        assert debtor is not None and debtor.paused_until is None
    assert kinds(store) == ["debtor.paused", "action.settled", "debtor.resumed"]


def test_dispute_open_and_close(store: Store, book: Book) -> None:
    fa4 = book.invoices["FA-4"]
    with store.write_transaction() as session:
        casework.open_dispute(session, BRUNO, [fa4], reason="livraison incomplète", today=TODAY)
    with pytest.raises(Conflict, match="already disputed"), \
            store.write_transaction() as session:
        casework.open_dispute(session, ALICE, [fa4], reason="autre", today=TODAY)
    with store.write_transaction() as session:
        casework.close_dispute(session, BRUNO, [fa4], resolution="avoir émis")
    with store.session() as session:
        invoice = session.get(Invoice, fa4)
        assert invoice is not None and invoice.dispute_reason is None
    assert kinds(store) == ["invoice.dispute_opened", "action.settled", "invoice.dispute_closed"]


def test_call_promise_closes_the_task(store: Store, book: Book) -> None:
    call = seen(store, book.actions["call"])
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, call, CallOutcome.PROMISE, today=TODAY,
                                     promised_on=dt.date(2026, 11, 30),
                                     amount=Money.of("500", "EUR"), note="rappeler si rien")
    assert action_of(store, call.action_id).state == ActionState.SENT
    with store.session() as session:
        promise = session.scalars(select(Promise)).one()
        assert (promise.promised_on, promise.amount_minor, promise.recorded_by) == (
            dt.date(2026, 11, 30), 50_000, "bruno")
        assert session.scalars(select(Note.body)).one() == "Call (promise): rappeler si rien"
    assert kinds(store) == ["promise.added", "action.settled", "note.added", "call.outcome"]


def test_call_no_answer_comes_back(store: Store, book: Book) -> None:
    call = seen(store, book.actions["call"])
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, call, CallOutcome.NO_ANSWER, today=TODAY,
                                     retry_on=dt.date(2026, 11, 23))
    action = action_of(store, call.action_id)
    assert action.state == ActionState.APPROVED and action.attempts == 1
    with pytest.raises(Conflict, match="updated by bruno"), \
            store.write_transaction() as session:  # a second operator on the stale task
        casework.record_call_outcome(session, ALICE, call, CallOutcome.WRONG_NUMBER,
                                     today=TODAY)


def test_call_dispute_paid_already_wrong_number(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, seen(store, book.actions["call"]),
                                     CallOutcome.DISPUTE, today=TODAY, reason="prix")
    with store.session() as session:
        invoice = session.get(Invoice, book.invoices["FA-3"])
        assert invoice is not None and invoice.dispute_reason == "prix"


def test_wrong_number_removes_it(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, seen(store, book.actions["call"]),
                                     CallOutcome.WRONG_NUMBER, today=TODAY)
    with store.session() as session:
        debtor = session.get(Debtor, book.debtors["F-0002"])
        assert debtor is not None and debtor.phone is None
        assert "+33478000001" in session.scalars(select(Note.body)).one()


def test_paid_already_pauses_a_week(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, seen(store, book.actions["call"]),
                                     CallOutcome.PAID_ALREADY, today=TODAY)
    with store.session() as session:
        debtor = session.get(Debtor, book.debtors["F-0002"])
        assert debtor is not None and debtor.paused_until == dt.date(2026, 11, 27)


def test_reset_level(store: Store, book: Book) -> None:
    with store.write_transaction() as session:
        casework.reset_level(session, ALICE, book.invoices["FA-1"], "franchise",
                             reason="nouvel accord", today=TODAY)
    with store.session() as session:
        level = session.get(InvoiceLevel, (book.invoices["FA-1"], "franchise"))
        assert level is not None and level.rule is None


def test_roles_from_the_config() -> None:
    policy = load_policy({"alice": "credit_manager", "carla": "auditor"}, {})
    assert policy.actor("carla").role is Role.AUDITOR
    with pytest.raises(UsageError, match="not in the \\[users\\] table"):
        policy.actor("mallory")
    with pytest.raises(ConfigError, match="must be one of"):
        load_policy({"x": "boss"}, {})
    assert load_policy({}, {}).actor("anyone").role is Role.CREDIT_MANAGER
    euro_only = load_policy({}, {"four_eyes_above": "5000 EUR"})
    assert euro_only.needs_two_approvals([Money.of("5000.01", "EUR")])
    assert not euro_only.needs_two_approvals([Money.of("5000", "EUR")])
    assert euro_only.needs_two_approvals([Money.of("1", "CHF")])


def test_an_approved_action_can_still_be_stopped(store: Store, book: Book) -> None:
    call = seen(store, book.actions["call"])  # approved, not yet worked
    with store.write_transaction() as session:
        casework.reject(session, BRUNO, call, "déjà réglé par téléphone")
    assert action_of(store, call.action_id).state == ActionState.REJECTED


def test_bulk_skips_what_it_does_not_apply_to(store: Store, book: Book) -> None:
    targets = [seen(store, book.actions["call"]), seen(store, book.actions["letter"])]
    with store.write_transaction() as session:
        result = casework.approve_many(session, BRUNO, targets)
    assert (result.done, result.skipped) == ([book.actions["letter"]], [book.actions["call"]])


def test_a_call_outcome_or_an_escalation_approval_names_the_wrong_kind_of_task(
        store: Store, book: Book) -> None:
    escalation, call = seen(store, book.actions["escalate"]), seen(store, book.actions["call"])
    with pytest.raises(UsageError, match=rf"action {escalation.action_id} is a escalate, "
                                         "not a call"), store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, escalation, CallOutcome.NO_ANSWER,
                                     today=TODAY)
    with pytest.raises(UsageError, match=rf"action {call.action_id} is a call, not an "
                                         "escalation"), store.write_transaction() as session:
        casework.approve_escalation(session, ALICE, call, policy=FOUR_EYES)
    with store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, call, CallOutcome.PAID_ALREADY,
                                     today=TODAY)
    done = seen(store, call.action_id)
    with pytest.raises(UsageError, match=rf"call {call.action_id} is sent: not on the call "
                                         "list"), store.write_transaction() as session:
        casework.record_call_outcome(session, BRUNO, done, CallOutcome.NO_ANSWER, today=TODAY)
    assert action_of(store, escalation.action_id).state == ActionState.PROPOSED
