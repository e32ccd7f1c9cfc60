"""The case commands as a user types them, on SQLite and PostgreSQL: `queue`, `approve`,
`reject`, `pause`, `resume`, `dispute`, `promise`, `note`, `credit-note`, `reverse`,
`allocate`, `payments`, `plan`, `history`, `undo`; and `pay`'s overpayments.

The book is `build_crowded_book`: F-0004's invoice FA-6 waits in a letter (grouped with
FA-7), an e-mail, a call task and an escalation, all queued by the run of 2026-11-20.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.engine import casework
from relance.store.db import Store, open_store
from relance.store.models import Action, Event, Invoice, InvoiceStatus
from tests.casework.factory import DESK_USERS, Book, add_creditor, add_debtor, build_crowded_book
from tests.cli import run_cli

TODAY = dt.date.today()
LATER = (TODAY + dt.timedelta(days=30)).isoformat()
# The same day as a sentence shows it (en_GB: day first).
LATER_SHOWN = (TODAY + dt.timedelta(days=30)).strftime("%d/%m/%Y")


@dataclass
class Desk:
    """A workspace over a built book, and the `relance` command line pointed at it."""

    root: Path
    url: str
    store: Store
    book: Book
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str, user: str = "alice") -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.root), "--db", self.url, "--user", user,
                       *args)

    def json(self, *args: str, user: str = "alice") -> Any:
        code, out, err = self.run("--json", *args, user=user)
        assert code == 0, err
        return json.loads(out)

    def queue(self, *args: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.json("queue", *args)
        return rows

    def invoice(self, number: str) -> tuple[int, InvoiceStatus, str | None]:
        with self.store.session() as session:
            found = session.scalars(select(Invoice).where(Invoice.number == number)).one()
            return found.balance_minor, found.status, found.dispute_reason

    def events(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count(Event.id))) or 0)

    def action_state(self, name: str) -> str:
        with self.store.session() as session:
            action = session.get(Action, self.book.actions[name])
            assert action is not None
            return action.state.value


@pytest.fixture
def desk(db_url: tuple[str, str | None], tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    with store.transaction() as session:
        book = build_crowded_book(session)
    (tmp_path / "relance.toml").write_text(DESK_USERS, encoding="utf-8")
    # A separate process would reach the test's PostgreSQL schema through the URL.
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield Desk(tmp_path, cli_url, store, book, capsys)
    finally:
        store.dispose()


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def test_paying_an_invoice_settles_every_action_it_waits_in(desk: Desk) -> None:
    actions = desk.book.actions
    before = desk.queue("--debtor", "F-0004")
    assert {row["channel"] for row in before} == {"letter", "email", "call", "escalate"}
    assert all("FA-6" in [i["number"] for i in row["invoices"]] for row in before)
    letter = next(row for row in before if row["channel"] == "letter")
    assert letter["invoices"] == [
        {"number": "FA-6", "balance": "1500.00", "currency": "EUR"},
        {"number": "FA-7", "balance": "800.00", "currency": "EUR"}]
    assert letter["debtor_name"] == "Salon Marseille Prado" and letter["approvals"] == 0

    code, out, err = desk.run("pay", "FA-6", "1 500,00", user="bruno")
    assert code == 0, err
    assert "balance now €0.00 — paid" in out and "Surplus" not in out
    assert (f"cancelled {actions['crowded_email']}, {actions['crowded_call']}, "
            f"{actions['crowded_escalate']}") in out

    after = desk.queue("--debtor", "F-0004")
    assert _ids(after) == [actions["crowded_letter"]]
    assert after[0]["invoices"] == [{"number": "FA-7", "balance": "800.00", "currency": "EUR"}]
    assert after[0]["dropped"] == [{"number": "FA-6", "reason": "paid"}]
    cancelled = desk.queue("--debtor", "F-0004", "--state", "cancelled")
    assert {row["channel"] for row in cancelled} == {"email", "call", "escalate"}


def test_an_overpayment_leaves_a_surplus_on_account_to_allocate(desk: Desk) -> None:
    code, out, err = desk.run("pay", "FA-7", "1000", "--reference", "VIR 7", user="bruno")
    assert code == 0, err
    assert "Surplus €200.00 on the account of Salon Marseille Prado (F-0004)" in out
    assert desk.invoice("FA-7")[:2] == (0, InvoiceStatus.PAID)

    listed = desk.json("payments", "--unallocated")
    assert [(p["debtor_ref"], p["amount"], p["unallocated"], p["reference"])
            for p in listed] == [("F-0004", "1000.00", "200.00", "VIR 7")]
    code, out, err = desk.run("allocate", str(listed[0]["id"]), "--invoice", "FA-6",
                              user="bruno")
    assert code == 0, err
    assert "€200.00 to FA-6 (balance now €1,300.00)" in out
    assert desk.invoice("FA-6")[0] == 130_000
    assert desk.json("payments", "--unallocated") == []


def test_pause_cancels_the_debtors_queue_and_resume_ends_it(desk: Desk) -> None:
    code, out, err = desk.run("pause", "F-0004", "--until", LATER, "--reason",
                              "owner in hospital", user="bruno")
    assert code == 0, err
    assert f"paused until {LATER_SHOWN}" in out and "cancelled" in out
    assert desk.queue("--debtor", "F-0004") == []
    assert desk.queue("--debtor", "F-0001") != []  # other debtors untouched
    code, out, _ = desk.run("resume", "F-0004", "--reason", "back", user="bruno")
    assert code == 0 and "resumed" in out
    code, _, err = desk.run("resume", "F-0004", "--reason", "again", user="bruno")
    assert code == 2 and "not paused" in err


def test_disputes_take_a_reason_from_the_list(desk: Desk) -> None:
    events = desk.events()
    code, _, err = desk.run("dispute", "FA-6", "--reason", "angry")
    assert code == 2 and "Traceback" not in err
    assert "quality, delivery, price, not_ordered, other" in err
    assert desk.invoice("FA-6")[2] is None and desk.events() == events

    code, out, err = desk.run("dispute", "FA-6", "FA-7", "--reason", "quality",
                              "--detail", "colour faded")
    assert code == 0, err
    assert desk.invoice("FA-6")[2] == "quality: colour faded"
    assert desk.queue("--debtor", "F-0004") == []  # every action was about FA-6 or FA-7

    code, out, err = desk.run("dispute", "FA-6", "--close", "--resolution", "credit note")
    assert code == 0 and "Dispute closed on FA-6" in out
    assert desk.invoice("FA-6")[2] is None


def test_dispute_reasons_come_from_relance_toml(desk: Desk) -> None:
    (desk.root / "relance.toml").write_text(
        DESK_USERS + '\n[disputes]\nreasons = ["damaged", "late"]\n', encoding="utf-8")
    code, _, err = desk.run("dispute", "FA-6", "--reason", "quality")
    assert code == 2 and "damaged, late" in err
    code, _, err = desk.run("dispute", "FA-6", "--reason", "damaged")
    assert code == 0, err
    assert desk.invoice("FA-6")[2] == "damaged"


def test_a_plan_lists_its_instalments_and_drops_the_reminders(desk: Desk) -> None:
    first = TODAY + dt.timedelta(days=10)
    code, out, err = desk.run("plan", "add", "FA-6", "FA-7", "--instalments", "3",
                              "--first", first.isoformat(), user="bruno")
    assert code == 0, err
    assert "3 instalments, total €2,300.00" in out
    assert desk.queue("--debtor", "F-0004") == []
    plans = desk.json("plan", "list", "--debtor", "F-0004")
    assert len(plans) == 1
    plan = plans[0]
    assert (plan["status"], plan["invoices"], plan["total"]) == ("active", ["FA-6", "FA-7"],
                                                                   "2300.00")
    assert [i["amount"] for i in plan["instalments"]] == ["766.67", "766.67", "766.66"]
    assert plan["instalments"][0]["due_on"] == first.isoformat()
    assert (plan["instalments_due"], plan["instalments_paid"]) == (0, 0)

    code, out, _ = desk.run("plan", "cancel", str(plan["id"]), "--reason", "broke it off")
    assert code == 0 and "cancelled" in out
    assert desk.json("plan", "list")[0]["status"] == "cancelled"


def test_a_plan_with_an_explicit_schedule(desk: Desk) -> None:
    one, two = TODAY + dt.timedelta(days=5), TODAY + dt.timedelta(days=35)
    # FA-1 and FA-2 owe 2 230.40; a decimal comma inside the schedule is read as such.
    code, _, err = desk.run("plan", "add", "FA-1", "FA-2", "--schedule",
                            f"{one.isoformat()}:1000,{two.isoformat()}:1230,40")
    assert code == 0, err
    plan = desk.json("plan", "list", "--debtor", "F-0001")[0]
    assert [(i["due_on"], i["amount"]) for i in plan["instalments"]] == [
        (one.isoformat(), "1000.00"), (two.isoformat(), "1230.40")]
    code, _, err = desk.run("plan", "add", "FA-4", "--schedule", f"{one.isoformat()}:10")
    assert code == 2 and "add up to €10.00" in err


def test_undoing_a_payment_reopens_the_invoice_once(desk: Desk) -> None:
    code, _, err = desk.run("pay", "FA-1", "1250", user="bruno")
    assert code == 0, err
    assert desk.invoice("FA-1")[:2] == (0, InvoiceStatus.PAID)
    history = desk.json("history", "F-0001")
    paid = next(e for e in history if e["kind"] == "payment.recorded")
    assert paid["undoable"] and paid["undone_by"] is None and "1250.00 EUR" in paid["summary"]

    code, out, err = desk.run("undo", str(paid["id"]), "--reason", "wrong debtor",
                              user="bruno")
    assert code == 0, err
    assert f"Event {paid['id']} (payment.recorded) undone by event" in out
    assert desk.invoice("FA-1")[:2] == (125_000, InvoiceStatus.OPEN)
    history = desk.json("history", "F-0001")
    kinds = [e["kind"] for e in history]
    assert "payment.reversed" in kinds and "payment.recorded" in kinds
    assert kinds.index("payment.reversed") < kinds.index("payment.recorded")  # newest first
    paid_again = next(e for e in history if e["id"] == paid["id"])
    reversal = next(e for e in history if e["kind"] == "payment.reversed")
    assert paid_again["undone_by"] == reversal["id"] and not paid_again["undoable"]

    events = desk.events()
    code, _, err = desk.run("undo", str(paid["id"]), user="bruno")
    assert code == 2 and "already undone" in err and "Traceback" not in err
    assert desk.events() == events


def test_approve_and_reject_by_id(desk: Desk) -> None:
    actions = desk.book.actions
    code, out, err = desk.run("approve", str(actions["letter"]), user="bruno")
    assert code == 0, err
    assert f"Approved 1: {actions['letter']}." in out
    assert desk.action_state("letter") == "approved"
    code, out, _ = desk.run("approve", str(actions["letter"]), user="bruno")
    assert code == 0 and "Skipped 1" in out  # approved already: left as it is

    result = desk.json("reject", str(actions["email"]), "--reason", "called instead",
                       user="bruno")
    assert result == {"rejected": [actions["email"]], "awaiting_second_approval": [],
                      "skipped": [], "conflicts": [], "refused": []}
    code, _, err = desk.run("reject", str(actions["letter"]), user="bruno")
    assert code == 2 and "--reason" in err
    code, _, err = desk.run("approve", str(actions["letter"]), user="carla")
    assert code == 2 and "auditor" in err


def test_escalations_need_credit_managers_and_four_eyes(desk: Desk) -> None:
    escalation = str(desk.book.actions["escalate"])  # 7 200 EUR, above 5 000: two needed
    # Refused for this action, listed with the others: a finding (exit 1), not bad usage.
    code, out, _ = desk.run("approve", escalation, user="bruno")
    assert code == 1 and "Refused:" in out and "only a credit manager" in out
    result = desk.json("approve", escalation, user="alice")
    assert result["awaiting_second_approval"] == [int(escalation)]
    assert desk.queue("--channel", "escalate")[0]["approvals"] == 1
    code, out, _ = desk.run("approve", escalation, user="alice")
    assert code == 1 and "second credit manager" in out
    code, _, err = desk.run("approve", escalation, user="david")
    assert code == 0, err
    assert desk.action_state("escalate") == "sent"


def test_approve_and_reject_all_matching(desk: Desk) -> None:
    actions = desk.book.actions
    code, out, err = desk.run("approve", "--all-matching", "channel=letter,state=proposed",
                              user="bruno")
    assert code == 0, err
    assert f"Approved 2: {actions['letter']}, {actions['crowded_letter']}." in out
    result = desk.json("reject", "--all-matching", "template=relance_1,debtor=F-0004",
                       "--reason", "one reminder is enough", user="bruno")
    assert result["rejected"] == [actions["crowded_email"]]
    assert desk.action_state("email") == "proposed"
    # A broad filter leaves the escalations alone: they are decided by name.
    result = desk.json("approve", "--all-matching", "state=proposed", user="bruno")
    assert result["approved"] == [actions["email"]]
    assert desk.action_state("escalate") == "proposed"
    code, out, _ = desk.run("approve", "--all-matching", "channel=escalate,debtor=F-0004",
                            user="bruno")
    assert code == 1 and "only a credit manager" in out
    result = desk.json("approve", "--all-matching", "channel=escalate,debtor=F-0004")
    assert result["approved"] == [actions["crowded_escalate"]]  # 1 500 EUR: one is enough
    assert desk.action_state("crowded_escalate") == "sent"
    code, out, _ = desk.run("approve", "--all-matching", "channel=sms", user="bruno")
    assert code == 0 and "No action matches" in out

    for bad, message in [("channel=fax", "choose one of letter"), ("colour=red", "unknown key"),
                         ("channel", "key=value"), ("debtor=F-0404", "no debtor F-0404")]:
        code, _, err = desk.run("approve", "--all-matching", bad, user="bruno")
        assert code == 2 and message in err, (bad, err)
    code, _, err = desk.run("approve", str(actions["letter"]), "--all-matching",
                            "channel=letter")
    assert code == 2 and "not both" in err


def test_an_action_changed_meanwhile_is_refused_with_exit_1(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    real = casework.Seen.of

    def stale(action: Action) -> casework.Seen:
        seen = real(action)
        # As if another operator's payment changed the letter after this command read it.
        if action.id == desk.book.actions["letter"]:
            return casework.Seen(seen.action_id, seen.state, "0" * 64, seen.attempts)
        return seen

    monkeypatch.setattr(casework.Seen, "of", staticmethod(stale))
    letters = [str(desk.book.actions[k]) for k in ("letter", "crowded_letter")]
    code, out, _ = desk.run("approve", *letters, user="bruno")
    assert code == 1
    assert f"Approved 1: {desk.book.actions['crowded_letter']}." in out
    assert "Refused: action" in out and "changed since you saw it" in out
    assert desk.action_state("letter") == "proposed"


def test_promise_note_credit_note_and_reversal(desk: Desk) -> None:
    code, out, err = desk.run("promise", "F-0004", "--on", LATER, "--amount", "500",
                              user="bruno")
    assert code == 0, err
    assert f"pays €500.00 by {LATER_SHOWN}" in out
    assert desk.queue("--debtor", "F-0004") == []  # promised after the run: reminders wait
    code, out, err = desk.run("note", "F-0004", "Promised on the phone", user="bruno")
    assert code == 0 and "Note" in out

    code, out, err = desk.run("credit-note", "FA-7", "100", "--number", "AV-12",
                              user="bruno")
    assert code == 0, err
    assert "balance now €700.00" in out
    credit = desk.json("payments", "--debtor", "F-0004")[0]
    assert (credit["kind"], credit["reference"]) == ("credit_note", "AV-12")
    code, out, err = desk.run("reverse", str(credit["id"]), "--reason", "issued twice",
                              user="bruno")
    assert code == 0, err
    assert "reopened FA-7 (balance €800.00)" in out
    kinds = [e["kind"] for e in desk.json("history", "F-0004")]
    assert {"promise.added", "note.added", "credit_note.recorded",
            "payment.reversed"} <= set(kinds)


def test_bad_input_exits_2_naming_the_field_and_stores_nothing(desk: Desk) -> None:
    events = desk.events()
    balances = [desk.invoice(n) for n in ("FA-6", "FA-7")]
    cases = [
        (["pay", "FA-404", "10"], "no invoice FA-404"),
        (["pause", "F-0404", "--until", LATER, "--reason", "x"], "no debtor F-0404"),
        (["pause", "F-0004", "--until", "31/02/2027", "--reason", "x"],
         "--until: '31/02/2027' is not a day of the calendar"),
        (["pause", "F-0004", "--until", "2020-01-01", "--reason", "x"], "today or later"),
        (["promise", "F-0004", "--on", "tomorrow"],
         "--on: 'tomorrow' is not a date (write YYYY-MM-DD or DD/MM/YYYY)"),
        (["promise", "F-0004", "--on", LATER, "--amount", "lots"], "--amount 'lots'"),
        (["dispute", "FA-404", "--reason", "quality"], "no invoice FA-404"),
        (["dispute", "FA-6", "--close"], "--resolution"),
        (["credit-note", "FA-6", "10", "--number", "AV-1", "--date", "2026-13-01"],
         "--date: '2026-13-01' is not a day of the calendar"),
        (["credit-note", "FA-6", "2000", "--number", "AV-1"], "more than its balance"),
        (["plan", "add", "FA-6", "--instalments", "3", "--first", "nope"], "--first: 'nope'"),
        (["plan", "add", "FA-6", "--schedule", f"{LATER}:abc"], "--schedule amount 'abc'"),
        (["plan", "add", "FA-6", "--instalments", "2", "--first", LATER, "--every", "1y"],
         "every '1y'"),
        (["plan", "cancel", "99", "--reason", "x"], "no payment plan 99"),
        (["reverse", "999", "--reason", "x"], "no payment 999"),
        (["allocate", "999"], "no payment 999"),
        (["undo", "999999"], "no event 999999"),
        (["approve", "999"], "no action 999"),
        (["history", "F-0404"], "no debtor F-0404"),
    ]
    for args, message in cases:
        code, _, err = desk.run(*args, user="bruno")
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    assert desk.events() == events
    assert [desk.invoice(n) for n in ("FA-6", "FA-7")] == balances


def test_a_debtor_reference_shared_by_two_creditors_needs_the_creditor(desk: Desk) -> None:
    with desk.store.transaction() as session:
        add_debtor(session, add_creditor(session, "OTHER"), "F-0004", "Another Marseille")
    code, _, err = desk.run("pause", "F-0004", "--until", LATER, "--reason", "x")
    assert code == 2 and "--creditor" in err
    code, out, err = desk.run("pause", "F-0004", "--until", LATER, "--reason", "x",
                              "--creditor", "JCDA")
    assert code == 0 and "Salon Marseille Prado" in out, err
