"""The approval gate of a collection firm: an escalation of a creditor without a mandate
in force, covering the escalation's stage, on the approval day, cannot be approved; the
approval that moves the invoices opens the debtor's case under the mandate, once.

On SQLite and PostgreSQL; approvals on 2026-11-20 (`NOW`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from relance.engine import casework, mandates
from relance.engine.casework import EscalationDecision, Seen
from relance.engine.mandates import NoMandate
from relance.engine.roles import Actor, Policy
from relance.kernel.money import Money
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Approval,
    Channel,
    Creditor,
    Debtor,
    Event,
    Invoice,
    MandateCase,
    MandateScope,
    Run,
    Stage,
)
from tests.casework.factory import Book, add_action, add_invoice
from tests.mandates.conftest import ALICE, COMPANY, DAVID, FIRM, FIRM_FOUR_EYES, NOW, TODAY


def record_mandate(store: Store, *, reference: str = "MD-JCDA-2026",
                   scope: MandateScope = MandateScope.AMICABLE,
                   starts_on: dt.date = dt.date(2026, 1, 1),
                   ends_on: dt.date | None = None) -> None:
    with store.write_transaction() as session:
        mandates.add_mandate(session, ALICE, creditor_code="JCDA", reference=reference,
                             signed_on=starts_on, scope=scope, fee_percent=Decimal("10"),
                             fixed_fee=Money.of("50", "EUR"), starts_on=starts_on,
                             ends_on=ends_on)


def seen(store: Store, action_id: int) -> Seen:
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return Seen.of(action)


def approve(store: Store, action_id: int, policy: Policy = FIRM,
            actor: Actor = ALICE) -> EscalationDecision:
    proposal = seen(store, action_id)
    with store.write_transaction() as session:
        return casework.approve_escalation(session, actor, proposal, policy=policy, now=NOW)


def state_of(store: Store, action_id: int) -> tuple[ActionState, Stage, int]:
    """The action's state, its first invoice's stage, and how many approvals it has."""
    with store.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        invoice = session.get(Invoice, action.items[0].invoice_id)
        assert invoice is not None
        return action.state, invoice.stage, len(action.approvals)


def cases(store: Store) -> list[tuple[str, int, dt.date]]:
    with store.session() as session:
        return [(c.reference, c.debtor_id, c.opened_on)
                for c in session.scalars(select(MandateCase).order_by(MandateCase.id))]


def event_kinds(store: Store) -> list[str]:
    with store.session() as session:
        return [e.kind for e in session.scalars(select(Event).order_by(Event.id))]


def test_without_a_mandate_the_escalation_is_refused_naming_the_creditor(
        store: Store, book: Book) -> None:
    escalation = book.actions["escalate"]
    with pytest.raises(NoMandate) as refused:
        approve(store, escalation)
    assert refused.value.message == (
        "Jean Coutu Diffusion (JCDA) has no mandate in force on 20/11/2026: a collection firm "
        "takes a case to recovery only under the creditor's signed mandate; record it "
        "(relance mandate add --creditor JCDA ...) before escalating its cases")
    assert refused.value.exit_code == 2
    # Nothing written: still proposed, no approval, invoices still at the reminder stage.
    assert state_of(store, escalation) == (ActionState.PROPOSED, Stage.REMINDER, 0)
    assert cases(store) == [] and event_kinds(store) == []


def test_with_a_mandate_in_force_the_case_opens_under_it_once(store: Store,
                                                               book: Book) -> None:
    record_mandate(store)
    lille = book.debtors["F-0003"]
    assert approve(store, book.actions["escalate"]) == EscalationDecision.APPROVED
    assert state_of(store, book.actions["escalate"])[:2] == (ActionState.SENT, Stage.AMICABLE)
    assert cases(store) == [("MD-JCDA-2026/0001", lille, TODAY)]
    assert event_kinds(store) == ["mandate.added", "mandate_case.opened",
                                  "escalation.approved"]
    with store.session() as session:
        opened = session.scalars(select(Event).where(Event.kind == "mandate_case.opened")).one()
        assert (opened.actor, opened.debtor_id, opened.data["mandate"]) == (
            "alice", lille, "MD-JCDA-2026")
        case = mandates.case_under_mandate(session, lille)
        assert case is not None and case.reference == "MD-JCDA-2026/0001"
        assert mandates.case_under_mandate(session, book.debtors["F-0001"]) is None

    # The same debtor escalated again (a new invoice): the case stays the one opened.
    with store.transaction() as session:
        debtor = session.get(Debtor, lille)
        run = session.get(Run, book.run_id)
        assert debtor is not None and run is not None
        later = add_invoice(session, debtor, "FA-40", 90_000, dt.date(2026, 8, 1))
        again = add_action(session, run, debtor, [later], Channel.ESCALATE,
                           rule="escalate amicable", policy="recovery", template=None,
                           target_stage=Stage.AMICABLE, key="lille-again").id
    assert approve(store, again, actor=DAVID) == EscalationDecision.APPROVED
    assert cases(store) == [("MD-JCDA-2026/0001", lille, TODAY)]


def test_each_debtor_gets_the_next_number_of_the_mandate(store: Store, book: Book) -> None:
    record_mandate(store)
    with store.transaction() as session:
        creditor = session.get(Creditor, book.creditor_id)
        run = session.get(Run, book.run_id)
        assert creditor is not None and run is not None
        lyon = session.get(Debtor, book.debtors["F-0001"])
        assert lyon is not None
        invoice = session.get(Invoice, book.invoices["FA-1"])
        assert invoice is not None
        lyon_escalation = add_action(session, run, lyon, [invoice], Channel.ESCALATE,
                                     rule="escalate amicable", policy="recovery",
                                     template=None, target_stage=Stage.AMICABLE).id
    approve(store, book.actions["escalate"])
    approve(store, lyon_escalation)
    assert [c[0] for c in cases(store)] == ["MD-JCDA-2026/0001", "MD-JCDA-2026/0002"]


def test_four_eyes_the_case_opens_on_the_approval_that_moves_the_invoices(
        store: Store, book: Book) -> None:
    escalation = book.actions["escalate"]  # 7 200.00 EUR, above 5 000.00 EUR
    with pytest.raises(NoMandate):  # not even a first approval without a mandate
        approve(store, escalation, FIRM_FOUR_EYES)
    record_mandate(store)
    assert approve(store, escalation, FIRM_FOUR_EYES) == EscalationDecision.AWAITING_SECOND
    assert cases(store) == []
    assert approve(store, escalation, FIRM_FOUR_EYES,
                   actor=DAVID) == EscalationDecision.APPROVED
    assert [c[0] for c in cases(store)] == ["MD-JCDA-2026/0001"]


def test_an_ended_mandate_no_longer_covers(store: Store, book: Book) -> None:
    record_mandate(store, ends_on=dt.date(2026, 10, 31))
    with pytest.raises(NoMandate, match=r"Jean Coutu Diffusion \(JCDA\) has no mandate in "
                                        r"force on 20/11/2026: mandate MD-JCDA-2026 ended on "
                                        r"31/10/2026; record the new one \(relance mandate "
                                        r"add --creditor JCDA ...\)"):
        approve(store, book.actions["escalate"])
    assert state_of(store, book.actions["escalate"]) == (ActionState.PROPOSED,
                                                          Stage.REMINDER, 0)


def test_a_mandate_starting_after_the_approval_day_does_not_cover(store: Store,
                                                                  book: Book) -> None:
    record_mandate(store, starts_on=dt.date(2026, 12, 1))
    with pytest.raises(NoMandate, match="has no mandate in force on 20/11/2026"):
        approve(store, book.actions["escalate"])


def test_litigation_needs_a_mandate_that_covers_it(store: Store, book: Book) -> None:
    record_mandate(store)  # amicable only
    with store.transaction() as session:
        action = session.get(Action, book.actions["escalate"])
        assert action is not None
        action.target_stage = Stage.LITIGATION
    with pytest.raises(NoMandate, match=r"mandate MD-JCDA-2026 of Jean Coutu Diffusion "
                                        r"\(JCDA\) covers amicable recovery only: record a "
                                        r"mandate for litigation too \(relance mandate add "
                                        r"--creditor JCDA --scope amicable-litigation"):
        approve(store, book.actions["escalate"])
    assert state_of(store, book.actions["escalate"]) == (ActionState.PROPOSED,
                                                          Stage.REMINDER, 0)
    with store.write_transaction() as session:
        mandates.end_mandate(session, ALICE, "MD-JCDA-2026", dt.date(2026, 11, 19))
    record_mandate(store, reference="MD-JCDA-2026-L", starts_on=dt.date(2026, 11, 20),
                   scope=MandateScope.AMICABLE_AND_LITIGATION)
    assert approve(store, book.actions["escalate"]) == EscalationDecision.APPROVED
    assert state_of(store, book.actions["escalate"])[:2] == (ActionState.SENT,
                                                              Stage.LITIGATION)
    assert [c[0] for c in cases(store)] == ["MD-JCDA-2026-L/0001"]


def test_a_company_workspace_is_not_gated(store: Store, book: Book) -> None:
    assert approve(store, book.actions["escalate"], COMPANY) == EscalationDecision.APPROVED
    assert state_of(store, book.actions["escalate"])[:2] == (ActionState.SENT, Stage.AMICABLE)
    assert cases(store) == []


def test_a_bulk_approval_reports_the_refusal_and_approves_the_rest(store: Store,
                                                                   book: Book) -> None:
    with store.session() as session:
        both = [Seen.of(a) for a in session.scalars(select(Action).where(
            Action.id.in_([book.actions["letter"], book.actions["escalate"]]))
            .order_by(Action.id))]
    with store.write_transaction() as session:
        result = casework.approve_many(session, ALICE, both, policy=FIRM, now=NOW)
    assert result.done == [book.actions["letter"]]
    assert [(i, "has no mandate in force" in m) for i, m in result.refused] == [
        (book.actions["escalate"], True)]
    with store.session() as session:
        approvals = session.scalars(select(Approval.action_id)).all()
    assert approvals == [book.actions["letter"]]
