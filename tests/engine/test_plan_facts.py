"""The payment-plan and promise facts: `plan_broken`, `instalment_overdue`,
`promises_broken`, on SQLite and PostgreSQL, the compiled query and the interpreter
alike (the differential test checks them on random books; these are the cases a credit
manager would write down)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from relance.dsl.loader import load_text
from relance.engine.evaluate import evaluate_python, evaluate_sql
from relance.engine.explain import explain_invoice
from relance.engine.fixtures import write_book
from relance.engine.ruletests import run_file
from relance.engine.run import run_day
from relance.engine.sqlcompile import compile_policy
from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.models import ActionItem, Invoice
from tests.engine.helpers import actions_of, rules_from

D = dt.date(2026, 6, 15)  # a Monday; no French public holiday in the fortnight before


def day(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


def invoice(number: str, debtor: str = "A", amount: str = "300.00",
            paid: str = "0") -> dict[str, Any]:
    return {"number": number, "debtor": debtor, "issue_date": day(-90), "due_date": day(-60),
            "amount": amount, "paid": paid}


def instalment(offset: int, paid: str = "0") -> dict[str, Any]:
    return {"due_on": day(offset), "amount": "100.00", "paid": paid}


BOOK: dict[str, Any] = {
    "creditor": {"code": "C", "country": "FR"},
    "debtors": [{"ref": "A"}, {"ref": "B"}],
    # What was paid on each invoice is what its plans' instalments say was paid.
    "invoices": [invoice("I1", amount="400.00", paid="150.00"), invoice("I2", paid="100.00"),
                 invoice("I3", paid="100.00"), invoice("I4"), invoice("I5"),
                 invoice("I6", "B")],
    "plans": [
        # I1: broken; paid up to the one due 15 days ago, half paid.
        {"debtor": "A", "invoices": ["I1"], "status": "broken", "agreed_on": day(-50),
         "ended_on": day(-5),
         "instalments": [instalment(-20, "100.00"), instalment(-15, "50.00"),
                         instalment(-5), instalment(10)]},
        # I2: active and paid up; the instalment due today is not late yet.
        {"debtor": "A", "invoices": ["I2"], "status": "active",
         "instalments": [instalment(-30, "100.00"), instalment(0), instalment(30)]},
        # I3: a broken plan renegotiated into an active one: not `plan_broken`, but the
        # old plan's unpaid instalment still counts.
        {"debtor": "A", "invoices": ["I3"], "status": "broken",
         "instalments": [instalment(-40), instalment(-10)]},
        {"debtor": "A", "invoices": ["I3"], "status": "active",
         "instalments": [instalment(-3, "100.00"), instalment(27)]},
        # I4: plans no longer in force count for nothing.
        {"debtor": "A", "invoices": ["I4"], "status": "completed",
         "instalments": [instalment(-50)]},
        {"debtor": "A", "invoices": ["I4"], "active": False, "instalments": [instalment(-60)]},
    ],
    "promises": [
        {"debtor": "B", "promised_on": day(-1)},  # open, date past: broken, not yet settled
        {"debtor": "B", "promised_on": day(-365), "status": "broken"},  # the first day counted
        {"debtor": "B", "promised_on": day(-366), "status": "broken"},  # a year and a day
        {"debtor": "B", "promised_on": day(-10), "status": "kept"},
        {"debtor": "B", "promised_on": day(-10), "status": "cancelled"},
        {"debtor": "B", "promised_on": day(0)},  # still running today
        {"debtor": "B", "invoice": "I6", "promised_on": day(-100), "status": "broken"},
    ],
}

EXPECTED = {
    "I1": {"plan_broken": True, "instalment_overdue": "15d", "instalment_overdue (bd)": "11bd",
           "promises_broken": 0},
    "I2": {"plan_broken": False, "instalment_overdue": "0d", "instalment_overdue (bd)": "0bd",
           "promises_broken": 0},
    "I3": {"plan_broken": False, "instalment_overdue": "40d",
           "instalment_overdue (bd)": "25bd", "promises_broken": 0},
    "I4": {"plan_broken": False, "instalment_overdue": "0d", "instalment_overdue (bd)": "0bd",
           "promises_broken": 0},
    "I5": {"plan_broken": False, "instalment_overdue": "0d", "instalment_overdue (bd)": "0bd",
           "promises_broken": 0},
    "I6": {"plan_broken": False, "instalment_overdue": "0d", "instalment_overdue (bd)": "0bd",
           "promises_broken": 3},
}

# Holds for every invoice, so that both evaluators record every value.
READ_ALL = """
policy everything
rule all:
  when (plan_broken or not plan_broken) and instalment_overdue >= 0d
    and instalment_overdue >= 0bd and promises_broken >= 0
  then call
"""

CALL_BROKEN = """
policy broken_plans
rule call_broken:
  when plan_broken and instalment_overdue >= 10d and not paused
  then call with priority high
"""


def test_both_evaluators_read_the_same_values(store: Store) -> None:
    policies = rules_from(READ_ALL, "all.rules").policies
    with store.transaction() as session:
        ids = write_book(session, BOOK)
        conn = session.connection()
        numbers = {invoice_id: number for number, invoice_id in ids.items()}
        by_sql = {numbers[a.invoice_id]: a.facts for a in evaluate_sql(conn, policies, D)}
        by_python = {numbers[a.invoice_id]: a.facts for a in evaluate_python(conn, policies, D)}
    assert by_sql == EXPECTED
    assert by_python == EXPECTED


@pytest.mark.parametrize(("condition", "acting"), [
    ("plan_broken", {"I1"}),
    ("not plan_broken", {"I2", "I3", "I4", "I5", "I6"}),
    ("instalment_overdue >= 15d", {"I1", "I3"}),
    ("instalment_overdue > 15d", {"I3"}),
    ("instalment_overdue = 0d", {"I2", "I4", "I5", "I6"}),
    ("instalment_overdue >= 2w", {"I1", "I3"}),
    ("instalment_overdue >= 12bd", {"I3"}),
    ("promises_broken >= 3", {"I6"}),
    ("promises_broken > 3", set()),
    ("promises_broken = 0", {"I1", "I2", "I3", "I4", "I5"}),
])
def test_conditions_select_the_same_invoices_both_ways(
    store: Store, condition: str, acting: set[str]
) -> None:
    policies = rules_from(f"policy p\nrule r: when {condition} then call\n",
                          "p.rules").policies
    with store.transaction() as session:
        ids = write_book(session, BOOK)
        conn = session.connection()
        numbers = {invoice_id: number for number, invoice_id in ids.items()}
        by_sql = {numbers[a.invoice_id] for a in evaluate_sql(conn, policies, D)}
        by_python = {numbers[a.invoice_id] for a in evaluate_python(conn, policies, D)}
    assert by_sql == acting
    assert by_python == acting


def test_a_broken_plan_gets_a_call_and_a_paid_up_plan_does_not(store: Store) -> None:
    rules = rules_from(CALL_BROKEN, "plans.rules")
    with store.transaction() as session:
        ids = write_book(session, BOOK)
    with store.transaction() as session:
        conn = session.connection()
        explained = {number for number, invoice_id in ids.items()
                     if explain_invoice(conn, rules.policies, invoice_id, D).acting()}
    assert explained == {"I1"}

    report = run_day(store, rules, D, actor="tester")

    assert (report.actions_created, report.items_created) == (1, 1)
    [call] = actions_of(store)
    assert (call["channel"], call["priority"], call["invoices"]) == ("call", "high", ["I1"])
    with store.transaction() as session:
        facts = session.scalars(
            select(ActionItem.facts).join(Invoice, Invoice.id == ActionItem.invoice_id)
            .where(Invoice.number == "I1")
        ).one()
    assert facts == {"plan_broken": True, "instalment_overdue": "15d", "paused": False}


def test_an_instalment_paid_since_stops_the_count(store: Store) -> None:
    rules = rules_from(CALL_BROKEN, "plans.rules")
    book = dict(BOOK, plans=[
        {"debtor": "A", "invoices": ["I1"], "status": "broken",
         "instalments": [instalment(-15, "100.00"), instalment(-5)]},
    ])
    with store.transaction() as session:
        write_book(session, book)
    report = run_day(store, rules, D, actor="tester")
    assert report.items_created == 0  # broken, but only 5 days behind


def test_the_facts_are_computed_only_for_policies_that_read_them() -> None:
    policies = rules_from("policy p\nrule r: when overdue >= 1d and in_plan then call\n",
                          "p.rules").policies
    sql = str(compile_policy(policies[0], D, [("FR", None)]).statement)
    assert "instalment" not in sql
    assert "broken_promise" not in sql
    assert "broken_plan" not in sql


def test_the_checker_knows_the_new_fields() -> None:
    def codes(condition: str) -> list[tuple[str, str | None]]:
        loaded = load_text(f"policy p\nrule r: when {condition} and not paused then call\n",
                           "t.rules")
        return [(d.code, d.hint) for d in loaded.diagnostics]

    assert codes("plan_broken and instalment_overdue >= 10d and promises_broken >= 2") == []
    assert codes("plan_brokn") == [("E201", "did you mean 'plan_broken'?")]
    assert codes("instalment_overdue >= 10")[0][0] == "E202"
    assert codes("promises_broken >= 2d")[0][0] == "E202"
    assert codes("instalment_overdue >= 10d and instalment_overdue < 5d")[0][0] == "E230"


RULE_TEST = """
rules = ["plans.rules"]

[creditor]
code = "C"
country = "FR"

[[debtors]]
ref = "A"

[[invoices]]
number = "I1"
debtor = "A"
issue_date = 2026-03-17
due_date = 2026-04-16
amount = "300.00"
paid = "150.00"

[[plans]]
debtor = "A"
invoices = ["I1"]
status = "broken"
agreed_on = 2026-04-20
instalments = [
  {due_on = 2026-05-15, amount = "100.00", paid = "100.00"},
  {due_on = 2026-05-31, amount = "100.00", paid = "50.00"},
  {due_on = 2026-06-30, amount = "100.00"},
]

[[case]]
name = "ten days after the missed instalment"
on = 2026-06-10
expect = ["2026-06-10 A call priority high, approved: I1"]

[[case]]
name = "nine days after it"
on = 2026-06-09
expect = []

[[case]]
name = "renegotiated: an active plan holds it too"
on = 2026-06-10
expect = []

[[case.plans]]
debtor = "A"
invoices = ["I1"]
status = "active"
agreed_on = 2026-06-05
instalments = [{due_on = 2026-06-30, amount = "150.00"}]
"""


def test_rule_tests_describe_plans_with_status_and_instalments(tmp_path: Path) -> None:
    (tmp_path / "plans.rules").write_text(CALL_BROKEN, encoding="utf-8")
    test_file = tmp_path / "plans.rules.test"
    test_file.write_text(RULE_TEST, encoding="utf-8")
    results = run_file(test_file)
    assert [(r.name, r.passed) for r in results] == [
        ("ten days after the missed instalment", True),
        ("nine days after it", True),
        ("renegotiated: an active plan holds it too", True),
    ], [r.diff() for r in results]


def test_a_plan_status_must_be_known(sqlite_store: Store) -> None:
    book = dict(BOOK, plans=[{"debtor": "A", "invoices": ["I1"], "status": "paused"}])
    with (pytest.raises(UsageError, match="status 'paused' is not one of"),
          sqlite_store.transaction() as session):
        write_book(session, book)

