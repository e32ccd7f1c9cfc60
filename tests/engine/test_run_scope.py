"""A run after a small change evaluates only the debtors changed, and decides the same.

On SQLite and PostgreSQL, random books imported as a user does, run on day D, then
changed a few debtors at a time (invoices paid, partly paid, moved to another debtor,
due earlier, new invoices, new debtors, payments recorded), each round run again: the
run names the run it went on from and how many debtors it evaluated, and the day's
queue it leaves is exactly the one a whole evaluation of the same book leaves (a dry
run, evaluated whole, just before). Changes another debtor may see make it evaluate the
whole book.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.engine import casework, undo
from relance.engine.roles import Actor, Role
from relance.engine.run import RunReport, run_day
from relance.engine.run_scope import MAX_DEBTORS
from relance.kernel.money import Money
from relance.store.book import record_payment
from relance.store.db import Store
from relance.store.importing.invoices import NAMED_DEBTORS_MAX, import_invoices
from relance.store.models import Action, ActionItem, Creditor, Debtor, Event, Invoice
from tests.cli import run_cli
from tests.engine.helpers import rules_from

D = dt.date(2026, 11, 22)
RULES = """
policy franchise for segment = franchisee

rule relance_1:
  when overdue >= 1d and not paused and not disputed
  then send email 'relance_1' with tone soft

rule amiable:
  when overdue >= 15d and not paused then send letter 'amiable_2' with tone soft

rule mise_en_demeure:
  when overdue >= 45d and after amiable by 15d and not promised
  then send letter 'mise_en_demeure' with tone firm, requires approval

policy calls for currency = eur and debtor_overdue >= 1000 EUR

rule call_big:
  when overdue >= 20d and not promised and not paused
  then call with priority high

policy habits for segment = retail and currency = eur

rule slow_payers:
  when overdue >= 5d and payer_class in [slow, bad] and debtor_balance >= 300 EUR
        and not paused
  then send email 'relance_2' with tone firm

# Acts when a debtor owes less: moving an invoice away from a debtor moves its case too.
policy small_cases for currency = eur and debtor_overdue < 1500 EUR

rule nudge:
  when overdue >= 10d and not paused then send sms 'relance_1'

rule the_rest:
  when overdue >= 30d and not paused then send letter 'amiable_2' with tone soft
"""
HEADER = ["creditor", "debtor_ref", "debtor_name", "segment", "email", "phone", "country",
          "language", "payment_method", "sales_rep", "invoice_number", "issue_date",
          "due_date", "amount", "currency", "paid_amount"]


class Book:
    """The rows of an invoice file, changed as an ERP's later exports would be."""

    def __init__(self, rng: random.Random, debtors: int) -> None:
        self.rng = rng
        self.debtors: dict[str, str] = {}  # ref -> segment
        self.rows: dict[str, dict[str, Any]] = {}  # invoice number -> row
        for _ in range(debtors):
            ref = self.new_debtor()
            for _ in range(rng.randint(1, 4)):
                self.new_invoice(ref)

    def new_debtor(self) -> str:
        ref = f"C-{len(self.debtors) + 1:04d}"
        self.debtors[ref] = self.rng.choice(["franchisee", "retail"])
        return ref

    def new_invoice(self, ref: str) -> None:
        number = f"F-{len(self.rows) + 1:05d}"
        due = D - dt.timedelta(days=self.rng.randint(-10, 120))
        amount = self.rng.choice([120_00, 480_00, 950_00, 1_800_00, 3_200_00])
        self.rows[number] = {"ref": ref, "number": number, "due": due, "amount": amount,
                             "paid": self.rng.choice([0, 0, 0, amount // 2, amount])}

    def change(self, debtors: int) -> None:
        """A few debtors' rows changed, in the ways an export changes them."""
        for ref in self.rng.sample(sorted(self.debtors), debtors):
            mine = [row for row in self.rows.values() if row["ref"] == ref]
            kind = self.rng.choice(["paid", "part", "due", "new", "move", "new_debtor"])
            row = self.rng.choice(mine) if mine else None
            if kind == "paid" and row:
                row["paid"] = row["amount"]
            elif kind == "part" and row:
                row["paid"] = row["amount"] // 3
            elif kind == "due" and row:
                row["due"] = row["due"] - dt.timedelta(days=self.rng.randint(10, 40))
            elif kind == "move" and row:
                row["ref"] = self.rng.choice(sorted(self.debtors))
            elif kind == "new_debtor":
                self.new_invoice(self.new_debtor())
            else:
                self.new_invoice(ref)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for row in self.rows.values():
            ref = row["ref"]
            writer.writerow([
                "ACME", ref, f"Client {ref}", self.debtors[ref], f"{ref.lower()}@example.fr",
                "", "FR", "fr", "transfer", "alice", row["number"],
                (row["due"] - dt.timedelta(days=30)).isoformat(), row["due"].isoformat(),
                f"{row['amount'] / 100:.2f}", "EUR", f"{row['paid'] / 100:.2f}"])
        return out.getvalue()


def _import(store: Store, book: Book, tmp_path: Path) -> None:
    path = tmp_path / "invoices.csv"
    path.write_text(book.csv(), encoding="utf-8")
    import_invoices(store, path, today=D)


def _day_queue(session: Session) -> set[tuple[Any, ...]]:
    """What day D's queue holds: each action with its invoices, rules and state."""
    rows = session.execute(
        select(Action.debtor_id, Action.channel, Action.template, Action.tone, Action.state,
               Action.requires_approval, ActionItem.policy, ActionItem.rule,
               ActionItem.invoice_id, ActionItem.state)
        .join(ActionItem, ActionItem.action_id == Action.id)
        .where(ActionItem.acted_on == D)).all()
    return {tuple(str(value) for value in row) for row in rows}


def _whole(store: Store, rules: Any) -> tuple[RunReport, set[tuple[Any, ...]]]:
    """What a whole evaluation of the book as it stands queues (a dry run)."""
    seen: dict[str, set[tuple[Any, ...]]] = {}

    def inspect(session: Session, _run_id: int, _report: RunReport) -> None:
        seen["queue"] = _day_queue(session)

    report = run_day(store, rules, D, actor="check", dry_run=True, inspect=inspect)
    return report, seen["queue"]


OPERATOR = Actor("bruno", Role.OPERATOR)


def _hold(store: Store, rng: random.Random, round_: int) -> None:
    """One thing an operator does to one case between two runs, through the core: a
    pause or its end, a dispute opened or closed, a promise, a note, a level reset,
    or one of these undone."""
    with store.transaction() as session:
        invoices = session.scalars(select(Invoice).where(Invoice.balance_minor > 0)
                                   .order_by(Invoice.id)).all()
        invoice = rng.choice(invoices)
        debtor = session.get(Debtor, invoice.debtor_id)
        assert debtor is not None
        choice = rng.choice(["pause", "dispute", "promise", "note", "reset", "undo"])
        if choice == "pause" and debtor.paused_until is not None:
            casework.resume(session, OPERATOR, debtor.id, reason="called back", today=D)
        elif choice == "pause":
            casework.pause(session, OPERATOR, debtor.id, until=D + dt.timedelta(days=10),
                           reason="talking to the owner", today=D)
        elif choice == "dispute" and invoice.dispute_reason is not None:
            casework.close_dispute(session, OPERATOR, [invoice.id], resolution="settled")
        elif choice == "dispute":
            casework.open_dispute(session, OPERATOR, [invoice.id], reason="quality", today=D)
        elif choice == "promise":
            casework.add_promise(session, OPERATOR, debtor.id, today=D,
                                 promised_on=D + dt.timedelta(days=rng.randint(0, 9)))
        elif choice == "note":
            casework.add_note(session, OPERATOR, debtor.id, f"round {round_}")
        elif choice == "reset":
            casework.reset_level(session, OPERATOR, invoice.id, "franchise",
                                 reason="new contact", today=D)
        else:
            casework.pause(session, OPERATOR, debtor.id, until=D + dt.timedelta(days=3),
                           reason="by mistake", today=D)
            paused = session.scalars(select(Event).where(Event.kind == "debtor.paused")
                                     .order_by(Event.id.desc())).first()
            assert paused is not None
            undo.undo(session, OPERATOR, paused.id, reason="wrong debtor", today=D)


def _counts(report: RunReport) -> tuple[Any, ...]:
    return (report.actions_created, report.actions_extended, report.items_created,
            report.actions_proposed, report.by_rule, report.by_channel)


@pytest.mark.parametrize("seed", range(4))
def test_a_run_after_small_changes_decides_what_a_whole_evaluation_decides(
        store: Store, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    rules = rules_from(RULES)
    book = Book(rng, debtors=40)
    _import(store, book, tmp_path)
    last = run_day(store, rules, D, actor="alice")
    assert last.scoped_from is None and last.actions_created > 0
    for round_ in range(3):
        book.change(rng.randint(1, 4))
        _import(store, book, tmp_path)
        if rng.random() < 0.5:
            with store.transaction() as session:
                invoice = rng.choice(session.scalars(
                    select(Invoice).where(Invoice.balance_minor > 0).order_by(Invoice.id)).all())
                record_payment(session, creditor_id=invoice.creditor_id,
                               debtor_id=invoice.debtor_id,
                               amount=Money("EUR", invoice.balance_minor), received_on=D,
                               reference=f"VIR-{round_}", actor="alice",
                               allocations=[(invoice.id, invoice.balance_minor)])
        if rng.random() < 0.7:
            _hold(store, rng, round_)
        expected_report, expected_queue = _whole(store, rules)
        report = run_day(store, rules, D, actor="bob")
        assert report.scoped_from == last.run_id, (seed, round_)
        assert report.debtors_evaluated is not None and 1 <= report.debtors_evaluated <= 14
        assert _counts(report) == _counts(expected_report), (seed, round_)
        with store.transaction() as session:
            assert _day_queue(session) == expected_queue, (seed, round_)
        last = report
    # Nothing changed since: the next run reuses the last one.
    assert run_day(store, rules, D, actor="carol").reused_from == last.run_id


def test_a_case_let_go_is_evaluated_again_alone(store: Store, tmp_path: Path) -> None:
    """A debtor paused and an invoice disputed when the day first ran: ending the pause,
    then closing the dispute, gives the next runs something to queue for that debtor,
    which they evaluate alone, and queue what a whole evaluation queues."""
    rules = rules_from(RULES)
    book = Book(random.Random(11), debtors=12)
    _import(store, book, tmp_path)
    _report, would = _whole(store, rules)
    # Two debtors the day would chase, one through an invoice `relance_1` names (that
    # rule stops at a dispute); as the queue lists them, (debtor, ..., rule, invoice, ...).
    paused_id = int(sorted(would)[0][0])
    disputed = sorted(row for row in would if row[7] == "relance_1"
                      and int(row[0]) != paused_id)[0]
    disputed_debtor, disputed_invoice = int(disputed[0]), int(disputed[8])
    with store.transaction() as session:
        casework.pause(session, OPERATOR, paused_id, until=D + dt.timedelta(days=5),
                       reason="talking to the owner", today=D)
        casework.open_dispute(session, OPERATOR, [disputed_invoice], reason="quality",
                              today=D)
    last = run_day(store, rules, D, actor="alice")

    def queued_for(debtor_id: int) -> set[tuple[Any, ...]]:
        with store.transaction() as session:
            return {row for row in _day_queue(session) if int(row[0]) == debtor_id}

    def run_and_compare() -> RunReport:
        expected_report, expected_queue = _whole(store, rules)
        report = run_day(store, rules, D, actor="bob")
        assert (report.scoped_from, report.debtors_evaluated) == (last.run_id, 1)
        assert _counts(report) == _counts(expected_report)
        with store.transaction() as session:
            assert _day_queue(session) == expected_queue
        return report

    assert not queued_for(paused_id)
    with store.transaction() as session:
        casework.resume(session, OPERATOR, paused_id, reason="he called back", today=D)
    last = run_and_compare()
    assert queued_for(paused_id)
    assert not any(row[8] == str(disputed_invoice) and row[7] == "relance_1"
                   for row in queued_for(disputed_debtor))
    with store.transaction() as session:
        casework.close_dispute(session, OPERATOR, [disputed_invoice], resolution="settled")
    run_and_compare()
    assert any(row[8] == str(disputed_invoice) and row[7] == "relance_1"
               for row in queued_for(disputed_debtor))


def test_the_run_says_what_it_went_on_from(store: Store, tmp_path: Path) -> None:
    rules = rules_from(RULES)
    book = Book(random.Random(7), debtors=20)
    _import(store, book, tmp_path)
    first = run_day(store, rules, D, actor="alice")
    book.rows["F-00001"]["paid"] = 0
    book.rows["F-00001"]["due"] = D - dt.timedelta(days=50)
    _import(store, book, tmp_path)
    second = run_day(store, rules, D, actor="bob")
    assert (second.scoped_from, second.debtors_evaluated) == (first.run_id, 1)
    assert second.to_json()["scoped_from"] == first.run_id
    with store.transaction() as session:
        done = session.scalars(select(Event).where(Event.kind == "run.done")
                               .order_by(Event.id.desc())).first()
        assert done is not None and done.data["scope"] == {"since": first.run_id, "debtors": 1}
        imported = session.scalars(select(Event).where(Event.kind == "import.invoices")
                                   .order_by(Event.id.desc())).first()
        assert imported is not None and len(imported.data["debtors"]) == 1


def test_a_change_every_debtor_may_see_evaluates_the_whole_book(
        store: Store, tmp_path: Path) -> None:
    rules = rules_from(RULES)
    book = Book(random.Random(3), debtors=20)
    _import(store, book, tmp_path)
    run_day(store, rules, D, actor="alice")
    with store.transaction() as session:  # the creditor's own details, seen by every debtor
        creditor = session.scalars(select(Creditor)).one()
        from relance.store import audit
        creditor.name = "ACME SA"
        audit.record(session, actor="alice", kind="creditor.edited", subject_type="creditor",
                     subject_id=creditor.id, creditor_id=creditor.id, data={"name": "ACME SA"})
    book.change(2)
    _import(store, book, tmp_path)
    expected_report, _queue = _whole(store, rules)
    report = run_day(store, rules, D, actor="bob")
    assert (report.scoped_from, report.debtors_evaluated) == (None, None)
    assert _counts(report) == _counts(expected_report)


def test_an_import_of_many_debtors_names_none() -> None:
    """Past the limit the import's event names no debtor, and the next run is whole."""
    from relance.store.importing.invoices import named_debtors

    assert named_debtors({3, 1, 2}) == {"debtors": [1, 2, 3]}
    assert named_debtors(set(range(NAMED_DEBTORS_MAX + 1))) == {}
    assert NAMED_DEBTORS_MAX <= MAX_DEBTORS


def test_an_invoice_moved_to_another_debtor_changes_both_cases(
        store: Store, tmp_path: Path) -> None:
    """The debtor an invoice leaves owes less: its other invoices come under the policy
    of smaller cases, as a whole evaluation finds."""
    rules = rules_from(RULES)
    book = Book(random.Random(11), debtors=6)
    book.rows = {}
    late = D - dt.timedelta(days=12)
    for number, ref, amount in (("F-1", "C-0001", 1_000_00), ("F-2", "C-0001", 900_00),
                                ("F-3", "C-0002", 200_00)):
        book.rows[number] = {"ref": ref, "number": number, "due": late, "amount": amount,
                             "paid": 0}
    _import(store, book, tmp_path)
    first = run_day(store, rules, D, actor="alice")
    with store.transaction() as session:
        assert not any(row[6] == "small_cases" and row[0] == "1"
                       for row in _day_queue(session))
    book.rows["F-1"]["ref"] = "C-0002"
    _import(store, book, tmp_path)
    expected_report, expected_queue = _whole(store, rules)
    report = run_day(store, rules, D, actor="bob")
    assert (report.scoped_from, report.debtors_evaluated) == (first.run_id, 2)
    assert _counts(report) == _counts(expected_report)
    with store.transaction() as session:
        queue = _day_queue(session)
    assert queue == expected_queue
    assert any(row[6] == "small_cases" and row[8] != "None" for row in queue)


def test_the_command_says_how_many_debtors_it_evaluated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    assert run_cli(capsys, "init", str(ws))[0] == 0
    for path in (ws / "rules").iterdir():
        path.unlink()
    (ws / "rules" / "book.rules").write_text(RULES, encoding="utf-8")
    book = Book(random.Random(5), debtors=10)
    path = tmp_path / "invoices.csv"
    path.write_text(book.csv(), encoding="utf-8")
    assert run_cli(capsys, "-w", str(ws), "import", "invoices", str(path))[0] == 0
    code, out, err = run_cli(capsys, "-w", str(ws), "--json", "run", "--on", D.isoformat())
    assert code == 0, err
    first = json.loads(out)
    # The same file again: an import that changed nothing.
    assert run_cli(capsys, "-w", str(ws), "import", "invoices", str(path))[0] == 0
    code, out, err = run_cli(capsys, "-w", str(ws), "run", "--on", D.isoformat())
    assert code == 0, err
    assert (f"no debtor's case changed since run {first['run_id']} of this day"
            in " ".join(out.split()))
    paid = [row for row in book.rows.values() if row["paid"] < row["amount"]][:2]
    for row in paid:
        row["paid"] = row["amount"]
    path.write_text(book.csv(), encoding="utf-8")
    assert run_cli(capsys, "-w", str(ws), "import", "invoices", str(path))[0] == 0
    code, out, err = run_cli(capsys, "-w", str(ws), "run", "--on", D.isoformat())
    assert code == 0, err
    evaluated = len({row["ref"] for row in paid})
    sentence = " ".join(out.split())
    assert (f"only the {evaluated} debtor{'s' if evaluated > 1 else ''} changed since run "
            f"{first['run_id'] + 1} of this day") in sentence


def test_an_import_committed_while_a_run_decides_is_evaluated_by_the_next_run(
        pg_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL lets an import commit while a run decides (on SQLite the run holds
    the write lock): the run cannot vouch for the book it leaves, so the next run of
    the day evaluates the whole book and queues what the import changed."""
    import relance.engine.run as run_module

    store = pg_store
    rules = rules_from(RULES)
    book = Book(random.Random(13), debtors=20)
    _import(store, book, tmp_path)
    first = run_day(store, rules, D, actor="alice")
    unpaid = [row for row in book.rows.values() if row["paid"] < row["amount"]]
    book.rows[unpaid[0]["number"]]["paid"] = unpaid[0]["amount"]
    _import(store, book, tmp_path)  # one debtor: the next run evaluates it alone
    other = next(row for row in book.rows.values() if row["ref"] != unpaid[0]["ref"])
    other["due"] = D - dt.timedelta(days=100)
    other["paid"] = 0
    later = tmp_path / "later"
    later.mkdir()
    decide = run_module.decide_day

    def decide_while_importing(*args: Any, **kwargs: Any) -> Any:
        done = threading.Thread(target=_import, args=(store, book, later))
        done.start()
        done.join(timeout=60)
        assert not done.is_alive()
        return decide(*args, **kwargs)

    monkeypatch.setattr(run_module, "decide_day", decide_while_importing)
    during = run_day(store, rules, D, actor="bob")
    monkeypatch.setattr(run_module, "decide_day", decide)
    assert during.scoped_from == first.run_id and during.debtors_evaluated == 1
    expected_report, expected_queue = _whole(store, rules)
    after = run_day(store, rules, D, actor="carol")
    assert (after.scoped_from, after.reused_from) == (None, None)
    assert _counts(after) == _counts(expected_report)
    with store.transaction() as session:
        assert _day_queue(session) == expected_queue


def test_an_id_set_is_one_parameter_whatever_its_size(store: Store) -> None:
    """Past SQLite's 32,766 parameters, and with ids that are not there."""
    from relance.engine.id_sets import in_ids
    from relance.store.models import Debtor

    with store.transaction() as session:
        creditor = Creditor(code="ACME", name="Acme", country="FR")
        session.add(creditor)
        session.flush()
        session.add_all([Debtor(creditor_id=creditor.id, ref=f"C-{n}", name=f"Client {n}")
                         for n in range(3)])
        session.flush()
        ids = sorted(session.scalars(select(Debtor.id)))
        column = Debtor.__table__.c.id
        wanted = [ids[0], ids[2], *range(ids[-1] + 1, ids[-1] + 40_001)]
        assert sorted(session.scalars(select(Debtor.id).where(in_ids(column, wanted)))
                      ) == [ids[0], ids[2]]
        assert list(session.scalars(select(Debtor.id).where(~in_ids(column, wanted)))
                    ) == [ids[1]]
        assert list(session.scalars(select(Debtor.id).where(in_ids(column, [])))) == []
