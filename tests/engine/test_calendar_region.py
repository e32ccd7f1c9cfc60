"""Business days count in the creditor's calendar region: two creditors in France, one
in Moselle (region "57", where Good Friday and 26 December are public holidays), the
same rules, the same due dates. The national creditor's invoices reach `3bd` a day
before the Moselle creditor's; the compiled queries (a run), the reference interpreter
and explain all say so, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from relance.dsl.loader import LoadedRules
from relance.engine.calendar import is_business_day
from relance.engine.evaluate import Acting, creditor_calendars, evaluate_python, evaluate_sql
from relance.engine.explain import explain_invoice
from relance.engine.fixtures import write_book
from relance.engine.run import run_day
from relance.store.db import Store
from relance.store.models import ActionItem, Creditor, Invoice
from tests.engine.helpers import rules_from

GOOD_FRIDAY = dt.date(2026, 4, 3)
# Tuesday after Easter: Easter Monday (6 April) is a holiday everywhere in France.
AFTER_EASTER = dt.date(2026, 4, 7)
# Monday after Christmas: 26 December 2025 (a Friday) is a holiday in Moselle only.
AFTER_CHRISTMAS = dt.date(2025, 12, 29)

RULES = """
policy ladder

rule relance_1:
  when overdue >= 3bd
  then send email 'relance_1'

rule relance_2:
  when after relance_1 by 2bd
  then send letter 'amiable_2'
"""


def book(code: str, region: str | None, prefix: str) -> dict[str, Any]:
    """The same invoices for each creditor: due on Wednesday 1 April (3 business days
    on 7 April in France, 2 in Moselle) and on Tuesday 31 March (4 and 3); a third,
    reminded on Wednesday 24 December 2025 (2 business days on 29 December in France,
    1 in Moselle)."""
    def invoice(number: str, due: dt.date) -> dict[str, Any]:
        return {"number": f"{prefix}-{number}", "debtor": f"{prefix}-D",
                "issue_date": due - dt.timedelta(days=30), "due_date": due,
                "amount": "480.00"}

    return {
        "creditor": {"code": code, "country": "FR", "calendar_region": region},
        "debtors": [{"ref": f"{prefix}-D"}],
        "invoices": [invoice("APR1", dt.date(2026, 4, 1)), invoice("MAR31", dt.date(2026, 3, 31)),
                     invoice("NOV", dt.date(2025, 11, 14))],
        "history": [{"invoice": f"{prefix}-NOV", "policy": "ladder",
                     "rule": "relance_1", "channel": "email",
                     "acted_on": dt.date(2025, 12, 24).isoformat()}],
    }


def write_two_creditors(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        ids = write_book(session, book("NATIONAL", None, "N"))
        ids.update(write_book(session, book("MOSELLE", "57", "M")))
        return ids


def decided(store: Store, rules: LoadedRules, on: dt.date) -> dict[str, tuple[str, Any]]:
    """Invoice number -> (rule, the facts it records), by the compiled queries; the
    interpreter must decide and record the same."""
    with store.transaction() as session:
        conn = session.connection()
        numbers = {row.id: row.number for row in conn.execute(select(Invoice.id, Invoice.number))}
        by_sql = list(evaluate_sql(conn, rules.policies, on))
        by_python = list(evaluate_python(conn, rules.policies, on))

    def recorded(actings: list[Acting]) -> dict[str, tuple[str, Any]]:
        return {numbers[a.invoice_id]: (a.rule.identity, a.facts) for a in actings}

    assert recorded(by_sql) == recorded(by_python)
    return recorded(by_sql)


def test_good_friday_is_no_business_day_for_the_moselle_creditor(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from(RULES)
    acting = decided(store, rules, AFTER_EASTER)
    first = {number for number, (rule, _facts) in acting.items() if rule == "relance_1"}
    # Due 1 April: 2, 3 and 7 April have passed nationally, only 2 and 7 April in Moselle.
    assert first == {"N-APR1", "N-MAR31", "M-MAR31"}
    # The audit's facts count in each creditor's own calendar.
    assert acting["N-APR1"][1]["overdue (bd)"] == "3bd"
    assert acting["N-MAR31"][1]["overdue (bd)"] == "4bd"
    assert acting["M-MAR31"][1]["overdue (bd)"] == "3bd"


def test_a_run_queues_the_national_creditor_s_reminder_a_day_earlier(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from(RULES)
    run_day(store, rules, AFTER_EASTER, actor="test")
    with store.transaction() as session:
        queued = set(session.execute(
            select(Invoice.number).join(ActionItem, ActionItem.invoice_id == Invoice.id)
            .where(ActionItem.acted_on == AFTER_EASTER, ActionItem.rule == "relance_1")
        ).scalars())
    assert queued == {"N-APR1", "N-MAR31", "M-MAR31"}
    # The next day the Moselle creditor's invoice due on 1 April catches up.
    run_day(store, rules, AFTER_EASTER + dt.timedelta(days=1), actor="test")
    with store.transaction() as session:
        caught_up = set(session.execute(
            select(Invoice.number).join(ActionItem, ActionItem.invoice_id == Invoice.id)
            .where(ActionItem.acted_on == AFTER_EASTER + dt.timedelta(days=1),
                   ActionItem.rule == "relance_1")
        ).scalars())
    assert caught_up == {"M-APR1"}


def test_26_december_delays_the_moselle_creditor_s_next_step(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from(RULES)
    acting = decided(store, rules, AFTER_CHRISTMAS)
    second = {number for number, (rule, _facts) in acting.items()
              if rule == "relance_2"}
    # Reminded on 24 December: 26 and 29 December have passed nationally, only the 29th
    # in Moselle.
    assert second == {"N-NOV"}
    assert acting.get("M-NOV") is None
    acting = decided(store, rules, AFTER_CHRISTMAS + dt.timedelta(days=1))
    assert acting["M-NOV"][0] == "relance_2"


def test_explain_counts_in_the_creditor_s_calendar(store: Store) -> None:
    ids = write_two_creditors(store)
    rules = rules_from(RULES)
    with store.transaction() as session:
        conn = session.connection()
        national = explain_invoice(conn, rules.policies, ids["N-APR1"], AFTER_EASTER)
        moselle = explain_invoice(conn, rules.policies, ids["M-APR1"], AFTER_EASTER)
    assert national.policies[0].acting == "relance_1"
    assert moselle.policies[0].acting is None
    first = moselle.policies[0].rules[0]
    assert not first.held
    assert first.trace.to_json() == {"condition": "overdue >= 3bd", "held": False, "value": "2bd"}


def test_the_run_reads_each_creditor_s_calendar_once(store: Store) -> None:
    write_two_creditors(store)
    with store.transaction() as session:
        session.add(Creditor(code="AUTRE", name="Autre", country="FR", calendar_region="57"))
        session.flush()
        calendars = creditor_calendars(session.connection())
    assert calendars == [("FR", None), ("FR", "57")]


def test_a_region_the_country_s_calendar_does_not_know_keeps_its_national_holidays() -> None:
    easter_monday = GOOD_FRIDAY + dt.timedelta(days=3)
    # "67" is no subdivision of the library's French calendar, "57" none of Germany's:
    # each still rests on its country's holidays, not on weekends only.
    assert not is_business_day(easter_monday, "FR", "67")
    assert is_business_day(GOOD_FRIDAY, "FR", "67")
    assert not is_business_day(GOOD_FRIDAY, "DE", "57")
    assert not is_business_day(GOOD_FRIDAY, "FR", "57")


def test_a_negated_business_day_test_holds_for_the_national_creditor(store: Store) -> None:
    """`not overdue <= 2bd` on Good Friday: due Tuesday 31 March, the national
    creditor's invoice is 3 business days late and matches; the Moselle creditor's is 2
    and does not. The national creditor has no region recorded: its calendar test must
    be false for Moselle's bound, not unknown, or the negation of an unknown left its
    invoice out of the compiled query while the interpreter kept it."""
    write_two_creditors(store)
    rules = rules_from("""
policy ladder

rule late:
  when not overdue <= 2bd
  then send email 'relance_1'
""")
    acting = decided(store, rules, GOOD_FRIDAY)
    assert {number for number in acting if number.endswith("MAR31")} == {"N-MAR31"}
    assert acting["N-MAR31"][1]["overdue (bd)"] == "3bd"
