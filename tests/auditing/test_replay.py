"""`relance simulate --from PAST --until D --replay`: the back-test of the rules.

A history is made for real, day after day: the worked example's book imported, the
workspace's day run, every proposed action approved by a credit manager, the outbox
dispatched, payments received (one reversed), an invoice issued and imported mid-way, a
dispute opened. The replay from a day inside that history must queue the same steps on
the same days, say so, and leave the store exactly as it was. A rule changed afterwards
makes it show what the change would have done. The demo's portfolio, run a week with
payments, is replayed exactly too.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.channels.dispatch import dispatch
from relance.demo.portfolio import write_portfolio
from relance.engine.casework import Seen, approve, open_dispute
from relance.engine.replay import replay
from relance.engine.roles import Actor, Role
from relance.engine.workday import load_checked_rules, run_workspace_day
from relance.kernel.money import Money
from relance.kernel.workspace import Workspace, find_workspace
from relance.store import book
from relance.store.db import Store, open_store
from relance.store.importing import import_invoices
from relance.store.models import Action, ActionState, Base, Event, Invoice, Payment
from tests.channels.factory import add_creditor
from tests.cli import run_cli

HISTORY_STARTS = dt.date(2026, 11, 15)
FIRST = dt.date(2026, 11, 22)
LAST = dt.date(2026, 12, 24)
ALICE = Actor("alice", Role.CREDIT_MANAGER)
LATE_INVOICE = (
    "creditor,debtor_ref,debtor_name,segment,email,country,language,invoice_number,"
    "issue_date,due_date,amount,currency\n"
    "JCDA,F-0004,Salon Bruxelles Louise,franchisee,bruxelles@example.be,BE,fr,FA-2026-0400,"
    "2026-12-01,2026-12-04,310.00,EUR\n")


@dataclass
class History:
    folder: Path
    url: str  # for the command line (a PostgreSQL schema rides in the URL)
    store: Store
    workspace: Workspace
    capsys: pytest.CaptureFixture[str]
    returned: int | None = None  # the payment the bank returns

    def cli(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, "-w", str(self.folder), "--db", self.url,
                       "--user", "alice", *args)


def _invoice(session: Session, number: str) -> Invoice:
    return session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()


def _pay(store: Store, number: str, minor: int | None, day: dt.date) -> int:
    with store.transaction() as session:
        invoice = _invoice(session, number)
        amount = invoice.balance_minor if minor is None else minor
        payment = book.record_payment(
            session, creditor_id=invoice.creditor_id, debtor_id=invoice.debtor_id,
            amount=Money(invoice.currency, amount), received_on=day, reference=number,
            actor="bank", allocations=[(invoice.id, amount)], today=day)
        return payment.id


def _approve_everything_proposed(store: Store) -> None:
    with store.transaction() as session:
        for action in session.scalars(select(Action).where(
                Action.state == ActionState.PROPOSED).order_by(Action.id)):
            approve(session, ALICE, Seen.of(action))


def live_a_day(history: History, day: dt.date) -> None:
    """What happens on one day of the history, before and after the day's run."""
    store, folder = history.store, history.folder
    if day == dt.date(2026, 11, 28):
        _pay(store, "FA-2026-0003", None, day)
    if day == dt.date(2026, 12, 1):
        (folder / "late.csv").write_text(LATE_INVOICE, encoding="utf-8")
        import_invoices(store, folder / "late.csv", actor="erp", today=day)
    if day == dt.date(2026, 12, 8):
        _pay(store, "FA-2026-0400", None, day)
    if day == dt.date(2026, 12, 10):
        _pay(store, "FA-2026-0001", 50000, day)
    if day == dt.date(2026, 12, 12):
        history.returned = _pay(store, "FA-2026-0005", None, day)
    if day == dt.date(2026, 12, 17) and history.returned is not None:
        with store.transaction() as session:
            book.reverse_payment(session, history.returned, on=day,
                                 reason="direct debit returned", actor="bank", today=day)
    if day == dt.date(2026, 12, 15):
        with store.transaction() as session:
            open_dispute(session, ALICE, [_invoice(session, "FA-2026-0114").id],
                         reason="quality", today=day)
    run_workspace_day(history.workspace, store, day, actor="scheduler")
    _approve_everything_proposed(store)
    dispatch(store, history.workspace, today=day, worker="test")


@pytest.fixture
def history(db_url: tuple[str, str | None], tmp_path: Path, examples_dir: Path,
            capsys: pytest.CaptureFixture[str]) -> Iterator[History]:
    url, schema = db_url
    folder = tmp_path / "desk"
    assert run_cli(capsys, "init", str(folder))[0] == 0
    for path in (folder / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    store = open_store(url, schema=schema)
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    with store.transaction() as session:
        # Complete, so that its letters and e-mails can go out.
        add_creditor(session, "JCDA", name="Jean Coiffure Développement SAS")
    shutil.copy(examples_dir / "invoices.csv", folder / "invoices.csv")
    import_invoices(store, folder / "invoices.csv", actor="erp", today=HISTORY_STARTS)
    made = History(folder, cli_url, store, find_workspace(folder), capsys)
    day = HISTORY_STARTS
    while day <= LAST:
        live_a_day(made, day)
        day += dt.timedelta(days=1)
    try:
        yield made
    finally:
        store.dispose()


def snapshot(store: Store) -> dict[str, Any]:
    """Every row of every table, and the head of the audit chain."""
    with store.transaction() as session:
        tables = {table.name: sorted(repr(tuple(row)) for row in session.execute(
            select(table))) for table in Base.metadata.sorted_tables}
        head = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    return {"tables": tables, "head": head}


def _without_state(actions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((a["date"], a["debtor"], a["channel"], a["template"], a["tone"],
                   a["priority"], a["target_stage"], tuple(a["invoices"]),
                   tuple(a["rules"])) for a in actions)


def test_the_replay_reproduces_the_dispatched_history_and_writes_nothing(
        history: History) -> None:
    with history.store.transaction() as session:
        sent = session.scalars(select(Action.channel).where(
            Action.created_on >= FIRST, Action.state == ActionState.SENT)).all()
        before_first = session.scalars(select(Action.id).where(
            Action.created_on < FIRST)).all()
        reversed_count = len(session.scalars(select(Payment.id).where(
            Payment.reversed_on.isnot(None))).all())
    # The history is worth replaying: letters and e-mails went out, an escalation was
    # decided, actions before the first day set the levels the replay starts from.
    assert {"letter", "email", "escalate"} <= {str(channel) for channel in sent}
    assert before_first and reversed_count == 1
    before = snapshot(history.store)

    code, out, err = history.cli("--json", "simulate", "--from", FIRST.isoformat(),
                                 "--until", LAST.isoformat(), "--replay")
    assert code == 0, err
    report = json.loads(out)
    assert report["differences"] == [] and report["reproduced"] is True
    assert _without_state(report["actual"]) == _without_state(report["replayed"])
    by_day = {(a["date"], a["channel"], a["template"]) for a in report["replayed"]
              if "FA-2026-0400" in a["invoices"]}
    # The invoice issued on 1 December is warned of its due date that day, not before.
    assert ("2026-12-01", "email", "prevenance") in by_day
    assert min(day for day, _, _ in by_day) == "2026-12-01"
    # FA-2026-0005, due for escalation on 15 December, was paid on the 12th; the bank
    # returned the payment on the 17th: escalated that day.
    fa5 = sorted((a["date"], a["channel"]) for a in report["replayed"]
                 if "FA-2026-0005" in a["invoices"])
    assert fa5[-1] == ("2026-12-17", "escalate")
    franchise = next(p for p in report["policies"] if p["policy"] == "franchise")
    assert franchise["other_day"] == franchise["not_replayed"] == 0
    assert franchise["same_day"] > 0 and franchise["sent"] > 0
    assert franchise["actual"] == franchise["replayed"]
    levels = {level["rule"]: level for level in franchise["replayed"]["levels"]}
    # FA-2026-0400 got its reminder e-mail on 5 December (due on the 4th) and was paid
    # on the 8th, before any escalation.
    assert levels["relance_1"]["paid"] == 1
    assert levels["relance_1"]["days_to_pay_mean"] == "3.0"
    assert franchise["replayed"]["paid_before_escalation"] == 1
    assert report["not_reconstructed"]["paid_by_import"] >= 1  # FA-2026-0002, paid in the ERP
    assert snapshot(history.store) == before
    # The same history, a rule edited since (one history built for both: it is slow).
    a_rule_changed_since_shows_what_it_would_have_done(history)


def a_rule_changed_since_shows_what_it_would_have_done(history: History) -> None:
    rules = history.folder / "rules" / "franchise.rules"
    text = rules.read_text(encoding="utf-8")
    assert "after 'letter amiable_2' by 15d" in text
    rules.write_text(text.replace("after 'letter amiable_2' by 15d",
                                  "after 'letter amiable_2' by 10d"), encoding="utf-8")
    code, out, err = history.cli("--json", "simulate", "--from", FIRST.isoformat(),
                                 "--until", LAST.isoformat(), "--replay")
    assert code == 0, err
    report = json.loads(out)
    assert report["reproduced"] is False
    moved = {(d["invoice"], d["rule"]): (d["actual"], d["replayed"])
             for d in report["differences"] if d["outcome"] == "other_day"}
    # Five days sooner for the formal notice, hence for the escalation after it.
    notice = moved[("FA-2026-0001", "mise_en_demeure")]
    assert dt.date.fromisoformat(notice[0]) - dt.date.fromisoformat(notice[1]) == (
        dt.timedelta(days=5))
    assert ("FA-2026-0001", "escalate") in moved

    code, out, err = history.cli("simulate", "--from", FIRST.isoformat(), "--until",
                                 LAST.isoformat(), "--replay")
    assert code == 0, err
    assert "differ from what was queued for real" in out
    assert "mise_en_demeure" in out and "another day" in out
    assert "paid before escalation" in out and "mean days to pay" in out
    assert "Payments are the real ones" in out
    assert "Traceback" not in err

    code, out, _ = history.cli("simulate", "--from", FIRST.isoformat(), "--until",
                               LAST.isoformat(), "--replay", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "outcome,policy,rule,invoice,debtor,actual,replayed"
    assert any(line.startswith("other_day,franchise,mise_en_demeure,FA-2026-0001,F-0001,")
               for line in lines)


def test_a_replay_ending_before_it_starts_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(tmp_path / "desk")
    assert run_cli(capsys, "init", folder)[0] == 0
    code, out, err = run_cli(capsys, "-w", folder, "simulate", "--from", "2026-12-10",
                             "--until", "2026-12-01", "--replay")
    assert code == 2 and out == ""
    assert "--until" in err and "Traceback" not in err


def test_the_demo_portfolio_run_for_a_week_is_replayed_exactly(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    assert run_cli(capsys, "init", str(folder))[0] == 0
    workspace = find_workspace(folder)
    # Today: the import records its promises now, and a promise counts from that day.
    first = dt.date.today()
    write_portfolio(folder / "portfolio.csv", first)
    import_invoices(store, folder / "portfolio.csv", actor="erp", today=first)
    last = first + dt.timedelta(days=6)
    day = first
    while day <= last:
        if day == first + dt.timedelta(days=3):
            with store.transaction() as session:
                owed = session.scalars(select(Invoice.number).where(
                    Invoice.balance_minor > 0, Invoice.due_date < day,
                    Invoice.dispute_reason.is_(None)).order_by(Invoice.id).limit(40)).all()
            for number in owed:
                _pay(store, number, None, day)
        run_workspace_day(workspace, store, day, actor="scheduler")
        _approve_everything_proposed(store)
        day += dt.timedelta(days=1)
    before = snapshot(store)

    report = replay(store, load_checked_rules(workspace), first, last)

    assert len(report.actual) > 100
    assert report.reproduced and report.differences == ()
    assert [p.actual for p in report.policies] == [p.replayed for p in report.policies]
    assert sum(level.paid for p in report.policies for level in p.replayed.levels) > 0
    assert report.limits.paid_by_import > 0  # the portfolio's own paid amounts
    assert snapshot(store) == before
