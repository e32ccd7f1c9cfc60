"""The payer profile learnt from a hand-built history (`tests.payer.history`): the values
worked out by hand there, read by both evaluators on SQLite and PostgreSQL, rules that
treat a good payer gently and call a bad one early, the checker and the thresholds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from relance.dsl.loader import load_text
from relance.engine.evaluate import evaluate_python, evaluate_sql
from relance.engine.explain import explain_invoice
from relance.engine.payer_profile import read_profile, recompute_profiles
from relance.engine.run import run_day
from relance.kernel.errors import ConfigError
from relance.kernel.settings import PayerSettings, parse_settings
from relance.store.db import Store
from relance.store.models import Action, Debtor, PayerProfile
from tests.engine.helpers import rules_from
from tests.payer.history import EXPECTED, D, write_history

# Holds for every open invoice, so that both evaluators record every profile value.
READ_ALL = """
policy everything
rule all:
  when (days_late_avg >= 0 or days_late_avg < 0 or paid_after_reminders != 1.5
        or promises_kept_ratio = 0.33) and disputes_12m >= 0
    and payer_class in [good, slow, bad, new]
  then call
"""

# A debtor's open invoice on D: A has I4, B has I6, C has I7.
OPEN = {"I4": "A", "I6": "B", "I7": "C"}

COLLECTION = """
policy collection
rule gentle:
  when overdue >= 1d and payer_class != good
  then send email 'reminder'
rule call_early:
  when overdue >= 1d and payer_class = bad
  then call with priority high
"""


def _by_debtor(actings: Any, ids: dict[str, int]) -> dict[str, dict[str, Any]]:
    numbers = {invoice_id: number for number, invoice_id in ids.items()}
    return {OPEN[numbers[a.invoice_id]]: a.facts for a in actings}


def _recorded(expected: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of the READ_ALL condition for one debtor."""
    return {"days_late_avg": expected["days_late_avg"],
            "paid_after_reminders": expected["paid_after_reminders"],
            "promises_kept_ratio": expected["promises_kept_ratio"],
            "disputes_12m": expected["disputes_12m"], "payer_class": expected["payer_class"]}


def test_the_profile_is_the_one_worked_out_by_hand(store: Store) -> None:
    ids = write_history(store)
    policies = rules_from(READ_ALL, "all.rules").policies
    with store.transaction() as session:
        conn = session.connection()
        assert recompute_profiles(conn, D, PayerSettings()) == 3
        by_sql = _by_debtor(evaluate_sql(conn, policies, D), ids)
        by_python = _by_debtor(evaluate_python(conn, policies, D), ids)
        refs = dict(session.execute(select(Debtor.ref, Debtor.id)).all())
        stored = {ref: read_profile(conn, debtor_id) for ref, debtor_id in refs.items()}
    expected = {ref: _recorded(values) for ref, values in EXPECTED.items()}
    assert by_sql == expected
    assert by_python == expected
    for ref, values in EXPECTED.items():
        assert stored[ref] == {**values, "computed_on": D}


def test_a_debtor_the_last_run_did_not_profile_reads_as_new(store: Store) -> None:
    ids = write_history(store)  # no run yet: no profile row at all
    policies = rules_from(READ_ALL, "all.rules").policies
    with store.transaction() as session:
        conn = session.connection()
        by_sql = _by_debtor(evaluate_sql(conn, policies, D), ids)
        by_python = _by_debtor(evaluate_python(conn, policies, D), ids)
    assert by_sql == by_python == {ref: _recorded(EXPECTED["C"]) for ref in "ABC"}


@pytest.mark.parametrize(("condition", "debtors"), [
    ("days_late_avg > 18.66", {"A"}),
    ("days_late_avg > 18.67", set()),
    ("days_late_avg <= 2.73", {"B"}),
    ("days_late_avg != 2.73", {"A", "C"}),  # C has none: unequal to everything
    ("paid_after_reminders >= 1", {"A"}),
    ("paid_after_reminders = 0.5", {"B"}),
    ("promises_kept_ratio < 0.5", {"A"}),
    ("not promises_kept_ratio < 0.5", {"B", "C"}),
    ("disputes_12m >= 2", {"A"}),
    ("disputes_12m = 0", {"B", "C"}),
    ("payer_class = bad", {"A"}),
    ("payer_class = 'GOOD'", {"B"}),
    ("payer_class in [new, slow]", {"C"}),
])
def test_conditions_on_the_profile_select_the_same_debtors_both_ways(
    store: Store, condition: str, debtors: set[str]
) -> None:
    ids = write_history(store)
    policies = rules_from(f"policy p\nrule r: when {condition} then call\n", "p.rules").policies
    with store.transaction() as session:
        conn = session.connection()
        recompute_profiles(conn, D, PayerSettings())
        assert set(_by_debtor(evaluate_sql(conn, policies, D), ids)) == debtors
        assert set(_by_debtor(evaluate_python(conn, policies, D), ids)) == debtors


def test_a_run_spares_the_good_payer_and_calls_the_bad_one_early(store: Store) -> None:
    write_history(store)
    rules = rules_from(COLLECTION, "collection.rules")
    report = run_day(store, rules, D, actor="test")
    assert report.actions_created == 2
    with store.transaction() as session:
        queued = {(ref, channel.value) for ref, channel in session.execute(
            select(Debtor.ref, Action.channel).join(Action, Action.debtor_id == Debtor.id)
            .where(Action.created_on == D))}
        profiled = session.scalars(select(PayerProfile.computed_on)).all()
    # B, a good payer 5 days late, gets nothing; A, a bad one, is called at once; C, new,
    # gets the ordinary reminder.
    assert queued == {("A", "call"), ("C", "email")}
    assert profiled == [D, D, D]


def test_explain_shows_the_profile_values_it_read(store: Store) -> None:
    ids = write_history(store)
    rules = rules_from(COLLECTION, "collection.rules")
    with store.transaction() as session:
        recompute_profiles(session.connection(), D, PayerSettings())
    with store.transaction() as session:
        shown = explain_invoice(session.connection(), rules.policies, ids["I4"], D)
    assert shown.acting() == {"collection": "call_early"}
    call_early = shown.to_json()["policies"][0]["rules"][1]["condition"]
    assert call_early["parts"][1] == {"condition": "payer_class = bad", "held": True,
                                      "value": "bad"}
    assert "payer_class = bad" in shown.render()


def test_thresholds_of_relance_toml_change_the_class(store: Store) -> None:
    write_history(store)
    lenient = parse_settings({"payer": {"bad_max_promises_kept": 0.3}}).payer
    strict = parse_settings({"payer": {"good_max_days_late": 1,
                                       "bad_min_days_late": 2}}).payer
    classes: dict[str, dict[str, str]] = {}
    for name, payer in (("default", PayerSettings()), ("lenient", lenient),
                        ("strict", strict)):
        with store.transaction() as session:
            recompute_profiles(session.connection(), D, payer)
            classes[name] = dict(session.execute(
                select(Debtor.ref, PayerProfile.payer_class)
                .join(PayerProfile, PayerProfile.debtor_id == Debtor.id)).all())
    assert classes["default"] == {"A": "bad", "B": "good", "C": "new"}
    # 0.33 of promises kept is more than 0.3: A is only slow (18.67 days late).
    assert classes["lenient"] == {"A": "slow", "B": "good", "C": "new"}
    # 2.73 days late is at least 2: B is bad too.
    assert classes["strict"] == {"A": "bad", "B": "bad", "C": "new"}


@pytest.mark.parametrize(("table", "message"), [
    ({"good_max_days_late": "5"}, "[payer] good_max_days_late must be a whole number"),
    ({"bad_max_promises_kept": True}, "[payer] bad_max_promises_kept must be a number"),
    ({"bad_max_promises_kept": 1.5}, "must be between 0 and 1, not 1.5"),
    ({"good_max_days_late": 30, "bad_min_days_late": 30},
     "bad_min_days_late must be more than good_max_days_late (30), not 30"),
    ({"bad_min_days": 30}, "did you mean bad_min_days_late?"),
])
def test_wrong_thresholds_are_refused_naming_the_key(table: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=r"relance\.toml") as refused:
        parse_settings({"payer": table})
    assert message in str(refused.value)


def test_the_checker_refuses_an_unknown_class_with_a_suggestion() -> None:
    loaded = load_text("policy p\nrule r: when payer_class = goood then call\n", "p.rules")
    assert not loaded.ok
    text = loaded.render()
    assert "goood" in text and "good" in text
    wrong_type = load_text("policy p\nrule r: when days_late_avg > 5d then call\n", "p.rules")
    assert not wrong_type.ok


def test_a_dry_run_profiles_in_its_own_transaction_and_keeps_nothing(store: Store) -> None:
    write_history(store)
    rules = rules_from(COLLECTION, "collection.rules")
    report = run_day(store, rules, D + dt.timedelta(days=1), actor="test", dry_run=True)
    assert report.actions_created == 2
    with store.transaction() as session:
        assert session.scalars(select(PayerProfile)).all() == []
