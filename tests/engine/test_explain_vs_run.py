"""Twenty hand-written cases: what explain says acts is what the run then queues.

Each case is rule text, a small book and a date; the expected outcome is written by
hand (policy/invoice -> rule), and both `explain` (the interpreter) and `run_day` (the
SQL) must produce exactly it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from relance.engine.explain import explain_invoice
from relance.engine.fixtures import write_book
from relance.engine.run import run_day
from relance.store.db import Store
from relance.store.models import ActionItem, Invoice
from tests.engine.helpers import rules_from

D = dt.date(2026, 6, 15)  # a Monday


def day(offset: int) -> str:
    return (D + dt.timedelta(days=offset)).isoformat()


def invoice(number: str, *, overdue: int, debtor: str = "A", amount: str = "100.00",
            **extra: Any) -> dict[str, Any]:
    due = D - dt.timedelta(days=overdue)
    return {"number": number, "debtor": debtor, "issue_date": due - dt.timedelta(days=30),
            "due_date": due, "amount": amount, **extra}


def book(*invoices: dict[str, Any], debtors: list[dict[str, Any]] | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"creditor": {"code": "C", "country": "FR"},
            "debtors": debtors or [{"ref": "A", "segment": "smb"}, {"ref": "B", "segment": "smb"}],
            "invoices": list(invoices), **extra}


LEVELS = """
policy p
rule r1: when overdue >= 1d then send email 'r1'
rule r2: when overdue >= 15d then send letter 'r2'
rule r3: when overdue >= 45d and after r2 by 15d then send letter 'r3', requires approval
"""

CASES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("first level", LEVELS, book(invoice("I1", overdue=3)), {"p/I1": "r1"}),
    ("jump to the last candidate", LEVELS, book(invoice("I1", overdue=60)), {"p/I1": "r2"}),
    ("nothing before the due date", LEVELS, book(invoice("I1", overdue=-2)), {}),
    ("after holds 15 days on", LEVELS,
     book(invoice("I1", overdue=60), history=[
         {"invoice": "I1", "policy": "p", "rule": "r2", "acted_on": day(-15)}]),
     {"p/I1": "r3"}),
    ("after not yet", LEVELS,
     book(invoice("I1", overdue=60), history=[
         {"invoice": "I1", "policy": "p", "rule": "r2", "acted_on": day(-14)}]), {}),
    ("a rejected action does not count for after", LEVELS,
     book(invoice("I1", overdue=60), history=[
         {"invoice": "I1", "policy": "p", "rule": "r2", "acted_on": day(-20),
          "state": "rejected"}]), {}),
    ("levels never go down", LEVELS,
     book(invoice("I1", overdue=5), history=[
         {"invoice": "I1", "policy": "p", "rule": "r2", "acted_on": day(-3)}]), {}),
    ("a removed rule: the last acted rule that still exists",
     "policy p\nrule r1: when overdue >= 1d then send email 'r1'\n"
     "rule r3: when overdue >= 30d then send letter 'r3'\n",
     book(invoice("I1", overdue=40), history=[
         {"invoice": "I1", "policy": "p", "rule": "r1", "acted_on": day(-20)},
         {"invoice": "I1", "policy": "p", "rule": "gone", "acted_on": day(-10)}]),
     {"p/I1": "r3"}),
    ("every repeats the current level",
     "policy p\nrule r1: when overdue >= 1d then send email 'r1', every 7d\n",
     book(invoice("I1", overdue=30), history=[
         {"invoice": "I1", "policy": "p", "rule": "r1", "acted_on": day(-7)}]),
     {"p/I1": "r1"}),
    ("every not due yet",
     "policy p\nrule r1: when overdue >= 1d then send email 'r1', every 2w\n",
     book(invoice("I1", overdue=30), history=[
         {"invoice": "I1", "policy": "p", "rule": "r1", "acted_on": day(-7)}]), {}),
    ("business days: 10bd before a Monday",
     "policy p\nrule r1: when overdue >= 10bd then send email 'r1'\n",
     book(invoice("I1", overdue=14), invoice("I2", overdue=13)), {"p/I1": "r1"}),
    ("paused debtors and disputed invoices",
     "policy p\nrule r1: when overdue >= 1d and not paused and not disputed "
     "then send email 'r1'\n",
     book(invoice("I1", overdue=5), invoice("I2", overdue=5, debtor="B"),
          invoice("I3", overdue=5, disputed="wrong"),
          debtors=[{"ref": "A"}, {"ref": "B", "paused_until": day(0)}]),
     {"p/I1": "r1"}),
    ("promises: held while open, broken after",
     "policy p\nrule r1: when overdue >= 1d and not promised then send email 'r1'\n"
     "rule r2: when promise_broken then send letter 'broken'\n",
     book(invoice("I1", overdue=5), invoice("I2", overdue=5, debtor="B"),
          promises=[{"debtor": "A", "promised_on": day(0)},
                    {"debtor": "B", "promised_on": day(-1)}]),
     {"p/I2": "r2"}),
    ("money never converts",
     "policy p\nrule r1: when balance >= 100 EUR then send email 'r1'\n"
     "rule r2: when balance != 100 EUR and overdue >= 100d then send letter 'r2'\n",
     book(invoice("I1", overdue=5), invoice("I2", overdue=5, currency="CHF"),
          invoice("I3", overdue=5, amount="99.99")),
     {"p/I1": "r1"}),
    ("debtor totals per currency",
     "policy p for debtor_overdue >= 250 EUR\nrule r1: when overdue >= 1d then call\n",
     book(invoice("I1", overdue=5, amount="200.00"), invoice("I2", overdue=0, amount="900"),
          invoice("I3", overdue=9, amount="60"), invoice("I4", overdue=3, debtor="B")),
     {"p/I1": "r1", "p/I3": "r1"}),
    ("tags, segments and enum case",
     "policy p for 'VIP' in tags\nrule r1: when country = fr and segment in [SMB, x] "
     "then send email 'r1'\n",
     book(invoice("I1", overdue=5), invoice("I2", overdue=5, debtor="B"),
          debtors=[{"ref": "A", "segment": "smb", "tags": ["vip"]},
                   {"ref": "B", "segment": "smb"}]),
     {"p/I1": "r1"}),
    ("history: reminders_sent and last_action across policies",
     "policy p\nrule r1: when reminders_sent >= 2 and last_action >= 10d then call\n"
     "policy q\nrule q1: when last_action >= 1000d then send email 'never'\n",
     book(invoice("I1", overdue=50), invoice("I2", overdue=50), history=[
         {"invoice": "I1", "policy": "x", "rule": "a", "acted_on": day(-30)},
         {"invoice": "I1", "policy": "x", "rule": "b", "acted_on": day(-10)},
         {"invoice": "I2", "policy": "x", "rule": "a", "acted_on": day(-30)},
         {"invoice": "I2", "policy": "x", "rule": "b", "acted_on": day(-9)}]),
     {"p/I1": "r1"}),
    ("stage, custom columns and risk",
     "policy p\nrule r1: when stage = amicable and attr.region = 'IDF' then call\n"
     "rule r2: when risk > 50 and overdue >= 100d then call\n",
     book(invoice("I1", overdue=5, stage="amicable", attrs={"region": "IDF"}),
          invoice("I2", overdue=5, attrs={"region": "IDF"}),
          invoice("I3", overdue=5, stage="amicable")),
     {"p/I1": "r1"}),
    ("an invoice in a payment plan",
     "policy p\nrule r1: when overdue >= 1d and not in_plan then send email 'r1'\n",
     book(invoice("I1", overdue=5), invoice("I2", overdue=5),
          plans=[{"debtor": "A", "invoices": ["I2"]}]),
     {"p/I1": "r1"}),
    ("two policies are independent tracks",
     "policy p\nrule r1: when overdue >= 1d then send email 'r1'\n"
     "policy q for amount >= 1000 EUR\nrule big: when overdue >= 20d then call\n",
     book(invoice("I1", overdue=30, amount="1500"), invoice("I2", overdue=30)),
     {"p/I1": "r1", "p/I2": "r1", "q/I1": "big"}),
]


@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_explain_says_what_the_run_does(store: Store, name: str) -> None:
    _, text, data, expected = next(case for case in CASES if case[0] == name)
    rules = rules_from(text, "case.rules")
    with store.transaction() as session:
        ids = write_book(session, data)
    with store.transaction() as session:
        conn = session.connection()
        explained = {}
        for number, invoice_id in ids.items():
            explanation = explain_invoice(conn, rules.policies, invoice_id, D)
            for policy, rule in explanation.acting().items():
                explained[f"{policy}/{number}"] = rule
    assert explained == expected

    run_day(store, rules, D, actor="tester")
    with store.transaction() as session:
        queued = {
            f"{policy}/{number}": rule
            for policy, number, rule in session.execute(
                select(ActionItem.policy, Invoice.number, ActionItem.rule)
                .join(Invoice, Invoice.id == ActionItem.invoice_id)
                .where(ActionItem.acted_on == D)
            )
        }
    assert queued == expected
