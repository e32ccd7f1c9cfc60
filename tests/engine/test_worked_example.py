"""franchise.expected.md, on SQLite and PostgreSQL: the worked example of the contract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.engine import bulk, eventlog
from relance.engine import run as run_module
from relance.engine.run import run_day
from relance.store import audit
from relance.store.db import Store
from relance.store.models import ActionItem, Event, Invoice, InvoiceLevel
from tests.engine.helpers import actions_of, example_rules, load_example

D = dt.date(2026, 11, 22)


def test_first_run_queues_six_communications_for_eight_items(
    store: Store, examples_dir: Path
) -> None:
    load_example(store, examples_dir)
    report = run_day(store, example_rules(examples_dir), D, actor="tester")

    assert (report.actions_created, report.items_created) == (6, 8)
    queued = {
        (a["channel"], a["template"], a["tone"], a["priority"], tuple(a["invoices"]))
        for a in actions_of(store)
    }
    assert queued == {
        ("letter", "amiable_2", "soft", None, ("FA-2026-0001", "FA-2026-0114")),
        ("call", None, None, "high", ("FA-2026-0001", "FA-2026-0114")),
        ("letter", "amiable_2", "soft", None, ("FA-2026-0003",)),
        ("call", None, None, "high", ("FA-2026-0003",)),
        ("email", "relance_1", "soft", None, ("FA-2026-0004",)),
        ("letter", "amiable_2", "soft", None, ("FA-2026-0005",)),
    }
    assert {a["state"] for a in actions_of(store)} == {"approved"}
    counts = {(c.policy, c.rule, c.channel): c.items for c in report.by_rule}
    assert counts == {
        ("franchise", "letter amiable_2", "letter"): 4,
        ("franchise", "relance_1", "email"): 1,
        ("calls", "call_big", "call"): 3,
    }
    with store.transaction() as session:
        balances = {
            number: (balance, currency)
            for number, balance, currency in session.execute(
                select(Invoice.number, ActionItem.balance_minor, ActionItem.currency)
                .join(ActionItem, ActionItem.invoice_id == Invoice.id)
                .where(ActionItem.policy == "franchise")
            )
        }
    # F-0001's letter totals 2,230.40 EUR; F-0003 still owes 2,400.50; F-0005 1,500 CHF.
    assert balances["FA-2026-0001"][0] + balances["FA-2026-0114"][0] == 223040
    assert balances["FA-2026-0003"] == (240050, "EUR")
    assert balances["FA-2026-0005"] == (150000, "CHF")
    assert balances["FA-2026-0004"] == (64000, "EUR")


def test_second_run_on_the_same_day_adds_nothing(store: Store, examples_dir: Path) -> None:
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    run_day(store, rules, D, actor="tester")
    again = run_day(store, rules, D, actor="tester")
    assert (again.actions_created, again.items_created) == (0, 0)
    assert len(actions_of(store)) == 6


def test_daily_runs_lead_fa_0001_to_formal_notice_then_escalation(
    store: Store, examples_dir: Path
) -> None:
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    day = D
    while day <= dt.date(2027, 1, 10):
        run_day(store, rules, day, actor="scheduler")
        day += dt.timedelta(days=1)
    fa_0001 = [
        (a["on"], a["rules"], a["state"])
        for a in actions_of(store)
        if "FA-2026-0001" in a["invoices"] and a["channel"] != "call"
    ]
    assert fa_0001 == [
        (D, ["letter amiable_2"], "approved"),
        (dt.date(2026, 12, 7), ["mise_en_demeure"], "proposed"),
        (dt.date(2026, 12, 22), ["escalate"], "proposed"),
    ]
    assert not [a for a in actions_of(store)
                if "relance_1" in a["rules"] and "FA-2026-0001" in a["invoices"]]


def test_an_invoice_imported_later_the_same_day_joins_the_day_s_letter(
    store: Store, examples_dir: Path
) -> None:
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    run_day(store, rules, D, actor="tester")
    with store.transaction() as session:
        first = session.scalars(select(Invoice).where(Invoice.number == "FA-2026-0001")).one()
        session.add(Invoice(
            creditor_id=first.creditor_id, debtor_id=first.debtor_id, number="FA-2026-0999",
            issue_date=dt.date(2026, 9, 1), due_date=dt.date(2026, 10, 1), currency="EUR",
            amount_minor=10_000, balance_minor=10_000))
    before = {a["id"]: a for a in actions_of(store)}
    again = run_day(store, rules, D, actor="tester")
    after = {a["id"]: a for a in actions_of(store)}
    # The letter and the call queued this morning receive it: no second letter or call.
    assert (again.actions_created, again.actions_extended, again.items_created) == (0, 2, 2)
    assert set(after) == set(before)
    letter = next(a for a in after.values()
                  if a["channel"] == "letter" and "FA-2026-0001" in a["invoices"])
    assert letter["invoices"] == ["FA-2026-0001", "FA-2026-0114", "FA-2026-0999"]


def test_a_run_written_in_small_batches_queues_the_same_and_chains_its_events(
    store: Store, examples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first run over a large book sends its items, levels and events in many batches;
    # here batches of one and two rows, so that the example crosses their edges.
    monkeypatch.setattr(run_module, "BATCH", 1)
    monkeypatch.setattr(eventlog, "BATCH", 2)
    monkeypatch.setattr(bulk, "BATCH", 2)
    load_example(store, examples_dir)
    rules = example_rules(examples_dir)
    report = run_day(store, rules, D, actor="tester")
    assert (report.actions_created, report.items_created) == (6, 8)
    queued = actions_of(store)
    assert sorted(len(a["invoices"]) for a in queued) == [1, 1, 1, 1, 2, 2]
    with store.transaction() as session:
        assert audit.verify(session) == []
        queued_events = session.scalars(
            select(Event.subject_id).where(Event.kind == "action.queued").order_by(Event.id)
        ).all()
        levels = dict(session.execute(
            select(Invoice.number, InvoiceLevel.rule)
            .join(InvoiceLevel, InvoiceLevel.invoice_id == Invoice.id)
            .where(InvoiceLevel.policy == "franchise")).all())
    # One event per action, in the order of the actions.
    assert queued_events == [str(a["id"]) for a in queued]
    assert levels == {"FA-2026-0001": "letter amiable_2", "FA-2026-0114": "letter amiable_2",
                      "FA-2026-0003": "letter amiable_2", "FA-2026-0005": "letter amiable_2",
                      "FA-2026-0004": "relance_1"}
    # The levels moved: the same day again adds nothing.
    again = run_day(store, rules, D, actor="tester")
    assert (again.actions_created, again.items_created) == (0, 0)
