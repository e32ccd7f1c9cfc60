"""Reading the policy queries: in turn, fetched ahead (PostgreSQL) or side by side on two
SQLite connections, the engine decides the same, and a failing query fails the run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import literal_column, select
from sqlalchemy.exc import DBAPIError

from relance.engine.evaluate import creditor_calendars, debtor_ranges, evaluate_sql
from relance.engine.fetching import policy_rows
from relance.engine.run import run_day
from relance.engine.sqlcompile import compile_policy
from relance.store.db import Store
from tests.engine.helpers import example_rules, load_example, rules_from

D = dt.date(2026, 11, 22)

# Three policies, so that the lanes and the read-ahead have more than one query to share.
THREE = """
policy letters for segment = franchisee and not paused
rule early: when overdue >= 1d and overdue < 30d then send email 'relance_1'
rule late: when overdue >= 30d then send letter 'amiable_2' with tone soft

policy calls for segment = franchisee and not paused
rule big: when overdue >= 10bd and debtor_overdue >= 1000 EUR then call with priority high

policy everyone
rule any: when overdue >= 0d then notify sales_rep 'late_alert'
"""


def _decided(store: Store, *, side_by_side: bool) -> list[tuple[str, str, int, dict[str, object]]]:
    policies = rules_from(THREE).policies
    with store.engine.connect() as conn:
        reader = store.engine if side_by_side else None
        return sorted((a.policy.name, a.rule.identity, a.invoice_id, a.facts)
                      for a in evaluate_sql(conn, policies, D, reader=reader))


def test_two_connections_decide_what_one_does(store: Store, examples_dir: Path) -> None:
    # SQLite: each policy split in two by debtor over two connections; PostgreSQL: the
    # second connection on the first one's exported snapshot.
    load_example(store, examples_dir)
    one = _decided(store, side_by_side=False)
    assert len({(policy, rule) for policy, rule, _, _ in one}) >= 3
    assert _decided(store, side_by_side=True) == one


def test_the_policies_come_back_in_their_order(store: Store, examples_dir: Path) -> None:
    load_example(store, examples_dir)
    policies = rules_from(THREE).policies
    with store.engine.connect() as conn:
        compiled = [compile_policy(p, D, creditor_calendars(conn)) for p in policies]
        for reader in (None, store.engine):
            names = [rows.compiled.policy.name for rows in policy_rows(conn, compiled,
                                                                       reader=reader)]
            assert names == ["letters", "calls", "everyone"]


def test_a_failing_query_fails_the_evaluation_in_the_callers_thread(
        store: Store, examples_dir: Path) -> None:
    load_example(store, examples_dir)
    policies = rules_from(THREE).policies
    with store.engine.connect() as conn:
        compiled = [compile_policy(p, D, creditor_calendars(conn)) for p in policies]
        # A query the database refuses, in the middle of the run.
        broken = dataclasses.replace(compiled[1],
                                     statement=select(literal_column("no_such_column")))
        rows = policy_rows(conn, [compiled[0], broken, compiled[2]], reader=store.engine)
        with pytest.raises(DBAPIError):
            list(rows)


def test_a_run_reads_on_two_connections_and_queues_the_worked_example(
        store: Store, examples_dir: Path) -> None:
    # On SQLite the run holds the write lock while the second connection reads.
    load_example(store, examples_dir)
    report = run_day(store, example_rules(examples_dir), D, actor="test")
    # franchise.expected.md: eight items in six communications on the first day.
    assert (report.items_created, report.actions_created) == (8, 6)


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_the_debtor_ranges_share_every_policy_without_gap_or_overlap(
        store: Store, examples_dir: Path, parts: int) -> None:
    load_example(store, examples_dir)
    policies = rules_from(THREE).policies
    with store.engine.connect() as conn:
        calendars = creditor_calendars(conn)
        ranges = debtor_ranges(conn, parts)
        # Open at both ends, so that a debtor added later still falls in one.
        assert ranges[0][0] is None and ranges[-1][1] is None  # type: ignore[index]
        per_range = [0] * len(ranges)
        for policy in policies:
            whole = conn.execute(compile_policy(policy, D, calendars).statement).all()
            shared: list[Any] = []
            for n, debtors in enumerate(ranges):
                rows = conn.execute(compile_policy(policy, D, calendars,
                                                   debtors=debtors).statement).all()
                per_range[n] += len(rows)
                shared += rows
            assert sorted(shared) == sorted(whole)
        # The ranges did divide the work.
        assert sum(1 for count in per_range if count) >= 2


def test_a_book_without_debtors_is_one_range(store: Store) -> None:
    with store.engine.connect() as conn:
        assert debtor_ranges(conn, 2) == [None]


def test_sqlite_finds_the_fields_of_open_invoices_in_their_index(
        sqlite_store: Store, examples_dir: Path) -> None:
    # Every field of the worked example's rules is in the index: SQLite never seeks an
    # invoice's row (`models.Invoice`, migration 0003).
    load_example(sqlite_store, examples_dir)
    with sqlite_store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        calendars = creditor_calendars(conn)
        for policy in example_rules(examples_dir).policies:
            statement = compile_policy(policy, D, calendars).statement
            sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
            sql = sql.replace("LIMIT ? OFFSET 0", "LIMIT -1 OFFSET 0")
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            reads = [step for step in plan if " invoice " in f"{step} "]
            assert reads, plan
            assert all("COVERING INDEX ix_invoice_open_debtor_fields" in step
                       for step in reads), (policy.name, reads)
