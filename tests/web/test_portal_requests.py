"""What a debtor does on their page, in the core, on SQLite and PostgreSQL: each is a case
change with its event and settled queue and an acknowledgement e-mail queued; what an
operator decides on a declared payment or a plan asked for; refusals change nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.engine import portal_requests as portal
from relance.engine.portal_acks import ACK_KEY, ACK_TEMPLATE
from relance.engine.portal_decisions import accept_request, refuse_request, requests_of
from relance.engine.roles import Actor, Role
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import using_language
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Debtor,
    Event,
    Invoice,
    Payment,
    PaymentPlan,
    PortalRequest,
    Promise,
)
from tests.agency_letters.firm import everything_read, prepare
from tests.channels.factory import TODAY, make_workspace
from tests.cli import run_cli
from tests.web.book import PortalBook, portal_book
from tests.web.store_state import store_state

ALICE = Actor("alice", Role.OPERATOR)
REASONS = list(portal.DEFAULT_DISPUTE_REASONS)
FIRST, SECOND, THEIRS = "FA-2026-0001", "FA-2026-0114", "FA-2026-0999"


@pytest.fixture
def book(store: Store) -> PortalBook:
    return portal_book(store)


def acks(store: Store, debtor_id: int) -> list[dict[str, object]]:
    """The acknowledgements queued for the debtor, oldest first: their facts."""
    with store.session() as session:
        return [dict(action.output[ACK_KEY], state=action.state.value)
                for action in session.scalars(select(Action).where(
                    Action.debtor_id == debtor_id, Action.template == ACK_TEMPLATE)
                    .order_by(Action.id))]


def state_of(store: Store, action_id: int) -> ActionState:
    with store.session() as session:
        return session.get_one(Action, action_id).state


def kinds(store: Store, debtor_id: int) -> list[tuple[str, str]]:
    with store.session() as session:
        return [(e.kind, e.actor) for e in session.scalars(select(Event).where(
            Event.debtor_id == debtor_id, Event.subject_type != "action").order_by(Event.id))]


def test_a_promise_from_the_page_is_the_promise_operators_record(store: Store,
                                                                  book: PortalBook) -> None:
    with store.write_transaction() as session:
        portal.promise_from_portal(session, book.debtor_id, promised_on=TODAY + dt.timedelta(
            days=20), today=TODAY, max_days=30)
    with store.session() as session:
        promise = session.scalars(select(Promise)).one()
        assert (promise.invoice_id, promise.recorded_by) == (None, "debtor:D-0001")
        assert promise.promised_on == TODAY + dt.timedelta(days=20)
    assert ("promise.added", "debtor:D-0001") in kinds(store, book.debtor_id)
    # The e-mail and the letter queued for those invoices wait no more.
    assert state_of(store, book.email_action_id) == ActionState.CANCELLED
    assert state_of(store, book.letter_action_id) == ActionState.CANCELLED
    assert state_of(store, book.other_letter_action_id) == ActionState.APPROVED
    assert acks(store, book.debtor_id) == [
        {"kind": "promise", "promised_on": (TODAY + dt.timedelta(days=20)).isoformat(),
         "invoices": [SECOND, FIRST], "state": "approved"}]


def test_a_promise_too_far_in_the_past_or_twice_is_refused_and_changes_nothing(
        store: Store, book: PortalBook) -> None:
    before = store_state(store)
    for day, words in ((TODAY + dt.timedelta(days=31), "at the latest"),
                       (TODAY - dt.timedelta(days=1), "today or later")):
        with pytest.raises(UsageError, match=words), store.write_transaction() as session:
            portal.promise_from_portal(session, book.debtor_id, promised_on=day, today=TODAY,
                                       max_days=30)
    assert store_state(store) == before
    with store.write_transaction() as session:
        portal.promise_from_portal(session, book.debtor_id, promised_on=TODAY, today=TODAY,
                                   max_days=30, invoice_numbers=[FIRST])
    once = store_state(store)
    with pytest.raises(UsageError, match="already promised"), \
            store.write_transaction() as session:
        portal.promise_from_portal(session, book.debtor_id, promised_on=TODAY, today=TODAY,
                                   max_days=30)
    assert store_state(store) == once


def test_a_dispute_names_the_debtors_own_invoices_only(store: Store,
                                                       book: PortalBook) -> None:
    before = store_state(store)
    refusals = []
    for number in (THEIRS, "FA-0000-0000"):
        with pytest.raises(NotFound) as refused, store.write_transaction() as session:
            portal.dispute_from_portal(session, book.debtor_id, invoice_numbers=[number],
                                       reason="quality", message="x", reasons=REASONS,
                                       today=TODAY)
        refusals.append(str(refused.value).replace(number, "N"))
    # Another debtor's invoice is refused in the very words of one that does not exist.
    assert refusals[0] == refusals[1]
    assert store_state(store) == before
    with store.write_transaction() as session:
        portal.dispute_from_portal(session, book.debtor_id, invoice_numbers=[SECOND],
                                   reason="delivery", message="Never delivered <b>!</b>",
                                   reasons=REASONS, today=TODAY)
    with store.session() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == SECOND)).one()
        assert invoice.dispute_reason == "delivery: Never delivered <b>!</b>"
        assert invoice.disputed_since == TODAY
    assert ("invoice.dispute_opened", "debtor:D-0001") in kinds(store, book.debtor_id)
    assert acks(store, book.debtor_id)[-1]["invoices"] == [SECOND]
    # Disputing it again says so, without the reason an operator may have written.
    with store.write_transaction() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == SECOND)).one()
        invoice.dispute_reason = "internal: known bad payer"
    with pytest.raises(UsageError) as again, store.write_transaction() as session:
        portal.dispute_from_portal(session, book.debtor_id, invoice_numbers=[SECOND],
                                   reason="price", message="y", reasons=REASONS, today=TODAY)
    assert "already disputed" in str(again.value)
    assert "known bad payer" not in str(again.value)


def declare(store: Store, book: PortalBook, amount: str = "2000,00",
            **kw: object) -> int:
    with store.write_transaction() as session:
        request = portal.declare_payment(session, book.debtor_id, amount_text=amount,
                                         paid_on=TODAY - dt.timedelta(days=2), today=TODAY,
                                         invoice_numbers=[SECOND], reference="VIR 42",
                                         **kw)  # type: ignore[arg-type]
        return request.id


def test_a_declared_payment_holds_the_reminders_until_an_operator_accepts_it(
        store: Store, book: PortalBook) -> None:
    request_id = declare(store, book, proof_path=".relance/uploads/abc.pdf")
    with store.session() as session:
        debtor = session.get_one(Debtor, book.debtor_id)
        assert debtor.paused_until == TODAY + dt.timedelta(days=portal.HOLD_DAYS)
        request = session.get_one(PortalRequest, request_id)
        assert (request.state, request.proof_path) == ("open", ".relance/uploads/abc.pdf")
        assert [r.id for r, _d in requests_of(session, ALICE,
                                              state=portal.RequestState.OPEN)] == [request_id]
    assert ("portal.payment_declared", "debtor:D-0001") in kinds(store, book.debtor_id)
    assert state_of(store, book.letter_action_id) == ActionState.CANCELLED
    with pytest.raises(UsageError, match="being checked"):
        declare(store, book)
    with store.write_transaction() as session:
        decision = accept_request(session, ALICE, request_id, today=TODAY)
    with store.session() as session:
        payment = session.get_one(Payment, decision.payment_id)
        assert (payment.amount_minor, payment.received_on) == (200_000,
                                                                TODAY - dt.timedelta(days=2))
        invoice = session.scalars(select(Invoice).where(Invoice.number == SECOND)).one()
        assert invoice.balance_minor == 0
        assert session.get_one(Debtor, book.debtor_id).paused_until is None
        assert session.get_one(PortalRequest, request_id).decided_by == "alice"
    assert [a["kind"] for a in acks(store, book.debtor_id)] == ["payment_declared",
                                                                 "request_accepted"]
    with pytest.raises(UsageError, match="already accepted by alice"), \
            store.write_transaction() as session:
        refuse_request(session, ALICE, request_id, reason="late", today=TODAY)


def test_refusing_a_declared_payment_brings_back_the_pause_it_lengthened(
        store: Store, book: PortalBook) -> None:
    with store.write_transaction() as session:
        debtor = session.get_one(Debtor, book.debtor_id)
        debtor.paused_until, debtor.pause_reason = TODAY + dt.timedelta(days=5), "holidays"
    request_id = declare(store, book)
    with store.write_transaction() as session:
        refuse_request(session, ALICE, request_id, reason="nothing on the account",
                       today=TODAY)
    with store.session() as session:
        debtor = session.get_one(Debtor, book.debtor_id)
        assert (debtor.paused_until, debtor.pause_reason) == (TODAY + dt.timedelta(days=5),
                                                              "holidays")
        assert session.get_one(PortalRequest, request_id).state == "refused"
        refused = session.scalars(select(Event).where(
            Event.kind == "portal.request_refused")).one()
        assert refused.data["reason"] == "nothing on the account"
    ack = acks(store, book.debtor_id)[-1]
    assert (ack["kind"], ack["request_kind"]) == ("request_refused", "payment_declared")
    assert "nothing on the account" not in str(ack)


def test_a_plan_asked_for_is_agreed_by_an_operator(store: Store, book: PortalBook) -> None:
    with store.write_transaction() as session:
        request_id = portal.request_plan(session, book.debtor_id, instalments=3,
                                         first_on=TODAY + dt.timedelta(days=10), today=TODAY,
                                         max_days=30).id
    with pytest.raises(UsageError, match="being considered"), \
            store.write_transaction() as session:
        portal.request_plan(session, book.debtor_id, instalments=2, first_on=TODAY,
                            today=TODAY, max_days=30)
    # Nothing holds the reminders meanwhile: only the plan, once agreed.
    assert state_of(store, book.letter_action_id) == ActionState.APPROVED
    with store.write_transaction() as session:
        plan_id = accept_request(session, ALICE, request_id, today=TODAY).plan_id
    with store.session() as session:
        plan = session.get_one(PaymentPlan, plan_id)
        assert [i.amount_minor for i in sorted(plan.instalments, key=lambda i: i.due_on)] == [
            566_667, 566_667, 566_666]
        assert plan.recorded_by == "alice"
    assert state_of(store, book.letter_action_id) == ActionState.CANCELLED
    assert [a["kind"] for a in acks(store, book.debtor_id)] == ["plan_requested",
                                                                 "request_accepted"]


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e400", "99999999999999999999",
                                    "2000,01", "12" * 30])
def test_absurd_amounts_are_refused_and_change_nothing(store: Store, book: PortalBook,
                                                       amount: str) -> None:
    before = store_state(store)
    with pytest.raises(UsageError):
        declare(store, book, amount)
    assert store_state(store) == before


@pytest.mark.parametrize("paid_on", [TODAY + dt.timedelta(days=1), dt.date(2001, 1, 1)])
def test_absurd_payment_days_are_refused(store: Store, book: PortalBook,
                                         paid_on: dt.date) -> None:
    before = store_state(store)
    with pytest.raises(UsageError), store.write_transaction() as session:
        portal.declare_payment(session, book.debtor_id, amount_text="10", paid_on=paid_on,
                               today=TODAY)
    assert store_state(store) == before


def test_an_operator_of_another_creditor_cannot_decide(store: Store, book: PortalBook) -> None:
    request_id = declare(store, book)
    stranger = Actor("dora", Role.OPERATOR, frozenset({"OTHER"}))
    before = store_state(store)
    with pytest.raises(UsageError, match=f"no request {request_id}"), \
            store.write_transaction() as session:
        accept_request(session, stranger, request_id, today=TODAY)
    with store.session() as session:
        assert requests_of(session, stranger, state=None) == []
    assert store_state(store) == before


def test_the_acknowledgement_speaks_the_debtors_language(store: Store, book: PortalBook,
                                                         tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    with store.write_transaction() as session:
        portal.promise_from_portal(session, book.debtor_id, today=TODAY, max_days=30,
                                   promised_on=TODAY + dt.timedelta(days=9))
        portal.dispute_from_portal(session, book.other_debtor_id, invoice_numbers=[THEIRS],
                                   reason="price", message="wrong price", reasons=REASONS,
                                   today=TODAY)
    with store.session() as session:
        ids = {action.debtor_id: action.id for action in session.scalars(
            select(Action).where(Action.template == ACK_TEMPLATE))}
    french = prepare(store, workspace, ids[book.debtor_id])
    assert french.error is None, french.error
    with using_language("fr"):
        text = everything_read(french)
    assert ("régler les factures FA-2026-0114, FA-2026-0001 au plus tard le 1 décembre 2026"
            in text)
    assert french.recipient == "d-0001@client.example"
    assert french.sender[0] == "Acme Distribution SAS"
    english = prepare(store, workspace, ids[book.other_debtor_id])
    assert english.error is None, english.error
    said = everything_read(english)
    assert f"dispute of invoice {THEIRS}" in said
    assert "reason: the price or the amount invoiced" in said


def test_operators_decide_from_the_command_line(store: Store, book: PortalBook,
                                               db_url: tuple[str, str | None], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url, schema = db_url
    database = url if schema is None else f"{url}?options=-csearch_path%3D{schema}"
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "relance.toml").write_text("[workspace]\n")

    def relance(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, "-w", str(tmp_path / "ws"), "--db", database, "--user",
                       "alice", *args)

    declared = declare(store, book, proof_path=".relance/uploads/0f3a.pdf")
    with store.write_transaction() as session:
        asked = portal.request_plan(session, book.debtor_id, instalments=2,
                                    first_on=TODAY + dt.timedelta(days=3), today=TODAY,
                                    max_days=30, invoice_numbers=[FIRST]).id
    code, out, err = relance("request", "list")
    assert code == 0, err
    assert "€2,000.00 paid on 20/11/2026" in out and ".relance/uploads/0f3a.pdf" in out
    assert "€15,000.00 in 2 instalments from 25/11/2026" in out
    code, out, err = relance("request", "refuse", str(asked), "--reason", "too long")
    assert code == 0 and f"Request {asked} refused" in out, err
    code, out, err = relance("request", "accept", str(declared), "--amount", "1500")
    assert code == 0, err
    with store.session() as session:
        payment = session.scalars(select(Payment)).one()
    assert f"Request {declared} accepted: payment {payment.id} recorded." in out
    assert payment.amount_minor == 150_000
    code, out, err = relance("request", "accept", str(declared))
    assert code == 2 and "already accepted by alice" in err
    code, out, err = relance("request", "list", "--all", "--json")
    assert code == 0, err
    assert '"state": "accepted"' in out and '"state": "refused"' in out
    code, out, err = relance("request", "list")
    assert code == 0 and "No request waits for a decision." in out
