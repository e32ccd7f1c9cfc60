"""Policies scoped `for creditor = X` in a book of two creditors: a run acts on X's
invoices only, the compiled query and the reference interpreter agree (SQLite and
PostgreSQL), and explain, the audit and simulate show the creditor like any fact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from relance.dsl.loader import LoadedRules, load_rules
from relance.engine.evaluate import (
    Acting,
    creditor_codes,
    creditor_ids,
    evaluate_python,
    evaluate_sql,
)
from relance.engine.explain import explain_invoice
from relance.engine.fixtures import write_book
from relance.engine.run import run_day
from relance.engine.simulate import simulate
from relance.store.db import Store
from relance.store.models import ActionItem, Invoice
from tests.engine.helpers import rules_from

D = dt.date(2026, 6, 15)  # a Monday
DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"

# The example of docs/language.md, run as written.
NETWORK = """# rules/network.rules — two creditors, each with its own track
policy maison_network for creditor = maison and segment = franchisee

rule nudge:
  when overdue >= 5d and not paused and not disputed
  then send email 'relance_1' with tone soft

rule call_them:
  when overdue >= 30d and not paused and not promised
  then call with priority normal

policy bellerose_ladder for creditor = bellerose

rule relance_1:
  when overdue >= 1d and not paused and not disputed
  then send email 'relance_1'

rule relance_2:
  when overdue >= 15d and after relance_1 by 10d and not paused
  then send letter 'amiable_2' with tone firm

rule mise_en_demeure:
  when overdue >= 45d and after relance_2 by 15d and not paused and not promised
  then send letter 'mise_en_demeure' with tone firm, requires approval
"""


def invoice(number: str, debtor: str, overdue: int) -> dict[str, Any]:
    due = D - dt.timedelta(days=overdue)
    return {"number": number, "debtor": debtor, "issue_date": due - dt.timedelta(days=30),
            "due_date": due, "amount": "480.00"}


# Both creditors' debtors are franchisees: only the creditor tells the policies apart.
MAISON = {
    "creditor": {"code": "MAISON", "country": "FR"},
    "debtors": [{"ref": "M-LYON", "segment": "franchisee"},
                {"ref": "M-SHOP", "segment": "smb"}],
    "invoices": [invoice("MA-1", "M-LYON", 10), invoice("MA-2", "M-LYON", 40),
                 invoice("MA-3", "M-SHOP", 40)],
}
BELLEROSE = {
    "creditor": {"code": "BELLEROSE", "country": "FR"},
    "debtors": [{"ref": "B-NANTES", "segment": "franchisee"},
                {"ref": "B-BREST", "segment": "franchisee"}],
    "invoices": [invoice("BE-1", "B-NANTES", 10), invoice("BE-2", "B-NANTES", 40),
                 invoice("BE-3", "B-BREST", 50)],
    "history": [{"invoice": "BE-3", "policy": "bellerose_ladder", "rule": "relance_1",
                 "acted_on": (D - dt.timedelta(days=20)).isoformat()}],
}
EXPECTED = {
    ("maison_network", "MA-1", "nudge"),
    ("maison_network", "MA-2", "call_them"),
    ("bellerose_ladder", "BE-1", "relance_1"),
    ("bellerose_ladder", "BE-2", "relance_1"),
    ("bellerose_ladder", "BE-3", "relance_2"),
}


def write_two_creditors(store: Store, *extra: dict[str, Any]) -> dict[str, int]:
    with store.transaction() as session:
        ids: dict[str, int] = {}
        for book in (MAISON, BELLEROSE, *extra):
            ids.update(write_book(session, book))
        return ids


def decided(store: Store, rules: LoadedRules, on: dt.date = D
            ) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """(policy, invoice number, rule) by the compiled queries, then by the interpreter;
    the facts each records must be the same too."""
    with store.transaction() as session:
        conn = session.connection()
        numbers = {row.id: row.number for row in conn.execute(select(Invoice.id,
                                                                     Invoice.number))}
        by_sql = list(evaluate_sql(conn, rules.policies, on))
        by_python = list(evaluate_python(conn, rules.policies, on))

    def recorded(actings: list[Acting]) -> list[tuple[str, str, str, str]]:
        return sorted((a.policy.name, numbers[a.invoice_id], a.rule.identity,
                       repr(sorted(a.facts.items()))) for a in actings)

    assert recorded(by_sql) == recorded(by_python)
    return ({(a.policy.name, numbers[a.invoice_id], a.rule.identity) for a in by_sql},
            {(a.policy.name, numbers[a.invoice_id], a.rule.identity) for a in by_python})


def test_the_example_is_the_one_in_the_language_reference() -> None:
    assert NETWORK in DOC.read_text(encoding="utf-8")


def test_each_policy_acts_on_its_own_creditor_s_invoices_only(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from(NETWORK, "rules/network.rules")
    by_sql, by_python = decided(store, rules)
    assert by_sql == by_python == EXPECTED
    run_day(store, rules, D, actor="test")
    with store.transaction() as session:
        queued = {(item.policy, number, item.rule): item.facts for item, number in
                  session.execute(select(ActionItem, Invoice.number)
                                  .join(Invoice, Invoice.id == ActionItem.invoice_id)
                                  .where(ActionItem.acted_on == D)).all()}
    assert set(queued) == EXPECTED
    # The audit keeps the creditor's code among the facts that made the rule fire.
    assert queued[("maison_network", "MA-2", "call_them")]["creditor"] == "MAISON"
    assert queued[("bellerose_ladder", "BE-3", "relance_2")]["creditor"] == "BELLEROSE"


def test_codes_compare_ignoring_case_in_scopes_lists_and_negations(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from("""
policy quoted for creditor = 'Maison'
when overdue >= 1d then send email 'relance_1'

policy listed for creditor in [bellerose, nobody]
when overdue >= 30d then call

policy others for creditor != MAISON
when overdue >= 45d then send letter 'mise_en_demeure'

policy none_of for creditor not in [MAISON, BELLEROSE]
when overdue >= 1d then call
""")
    by_sql, by_python = decided(store, rules)
    assert by_sql == by_python == {
        ("quoted", "MA-1", "email relance_1"), ("quoted", "MA-2", "email relance_1"),
        ("quoted", "MA-3", "email relance_1"),
        ("listed", "BE-2", "call"), ("listed", "BE-3", "call"),
        ("others", "BE-3", "letter mise_en_demeure"),
    }


def test_a_code_no_creditor_has_matches_nothing_and_its_negation_everything(
    store: Store,
) -> None:
    write_two_creditors(store)
    rules = rules_from("""
policy nobody for creditor = NOBODY
when overdue >= 1d then call

policy anybody for creditor != NOBODY
when overdue >= 45d then call
""")
    by_sql, by_python = decided(store, rules)
    assert by_sql == by_python == {("anybody", "BE-3", "call")}


def test_a_code_with_letters_outside_ascii_matches_ignoring_case(store: Store) -> None:
    elan = {"creditor": {"code": "ÉLAN", "country": "FR"},
            "debtors": [{"ref": "E-1", "segment": "smb"}],
            "invoices": [invoice("EL-1", "E-1", 20)]}
    write_two_creditors(store, elan)
    rules = rules_from("policy elan for creditor = 'élan'\n"
                       "when overdue >= 1d then send email 'relance_1'\n")
    by_sql, by_python = decided(store, rules)
    assert by_sql == by_python == {("elan", "EL-1", "email relance_1")}


def test_explain_shows_the_creditor_read_for_each_policy_s_scope(store: Store) -> None:
    ids = write_two_creditors(store)
    rules = rules_from(NETWORK, "rules/network.rules")
    with store.transaction() as session:
        explained = explain_invoice(session.connection(), rules.policies, ids["MA-2"], D)
    by_name = {policy.name: policy for policy in explained.policies}
    maison, bellerose = by_name["maison_network"], by_name["bellerose_ladder"]
    assert maison.in_scope and maison.acting == "call_them"
    assert not bellerose.in_scope and bellerose.acting is None
    assert bellerose.scope is not None
    assert bellerose.scope.to_json() == {"condition": "creditor = bellerose", "held": False,
                                         "value": "MAISON"}
    printed = explained.render().splitlines()
    at = printed.index("policy bellerose_ladder (rules/network.rules:12) — level: none")
    assert printed[at + 1] == "  scope does not hold:"
    assert "creditor = bellerose" in printed[at + 2] and "MAISON" in printed[at + 2]
    assert "=> call_them acts" in explained.render()


def test_simulate_keeps_each_creditor_on_its_own_track(store: Store) -> None:
    write_two_creditors(store)
    rules = rules_from(NETWORK, "rules/network.rules")
    days = simulate(store, rules, D, D + dt.timedelta(days=35))
    tracks = {(action.invoices, rule.split("/")[0]) for action in days for rule in action.rules}
    maison_numbers = {"MA-1", "MA-2", "MA-3"}
    for invoices, policy in tracks:
        assert (policy == "maison_network") == bool(set(invoices) & maison_numbers), tracks
    # The franchisees of Maison get the soft e-mail and calls, never Bellerose's letters.
    maison = [a for a in days if a.debtor.startswith("M-")]
    assert {(a.channel, a.template) for a in maison} == {("email", "relance_1"),
                                                         ("call", None)}
    assert ("letter", "mise_en_demeure") in {(a.channel, a.template) for a in days
                                             if a.debtor.startswith("B-")}


def test_the_run_reads_each_code_once_and_check_warns_of_unknown_ones(
    store: Store, tmp_path: Path,
) -> None:
    write_two_creditors(store)
    with store.transaction() as session:
        conn = session.connection()
        assert creditor_codes(conn) == frozenset({"MAISON", "BELLEROSE"})
        found = creditor_ids(conn)
    assert sorted(found) == ["bellerose", "maison"]
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "network.rules").write_text(NETWORK.replace("creditor = bellerose",
                                                          "creditor = belerose"),
                                          encoding="utf-8")
    loaded = load_rules([folder], root=tmp_path, creditors=frozenset({"MAISON",
                                                                      "BELLEROSE"}))
    assert [(d.code, d.message, d.hint) for d in loaded.diagnostics] == [
        ("W307", "no creditor has the code 'belerose'", "did you mean 'BELLEROSE'?")]
