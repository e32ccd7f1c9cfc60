"""A realistic book written straight into a store with Core bulk inserts, for the engine
benchmark: N invoices (a fifth of them open), debtors in five segments over two
creditors (France and Belgium, for business days), euros and some Swiss francs, tags,
pauses, disputes, promises, and a history of letters on part of the open invoices so
that `after`, `reminders_sent` and `last_action` have something to read.

Deterministic for a seed. `python bench/engine_books.py URL N` fills an empty store.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert

from relance.engine.facts import (
    ACTION,
    ACTION_ITEM,
    CREDITOR,
    DEBTOR,
    DEBTOR_TAG,
    INVOICE,
    INVOICE_LEVEL,
    PROMISE,
)
from relance.store.db import Store, open_store

ON = dt.date(2026, 11, 23)  # a Monday
BATCH = 20_000
SEGMENTS = ["franchisee"] * 40 + ["smb"] * 30 + ["individual"] * 15 + ["key_account"] * 8 \
    + ["public_body"] * 7


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(store: Store, invoices: int, *, open_share: float = 0.2, seed: int = 7,
             history_share: float = 0.4, verbose: bool = True) -> dict[str, int]:
    """Fill an empty store; returns counts of what was written."""
    rng = random.Random(seed)
    debtors = max(10, invoices // 10)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(insert(CREDITOR), [
            {"id": 1, "code": "FRA", "name": "Franchise SA", "country": "FR"},
            {"id": 2, "code": "BEL", "name": "Belgique SRL", "country": "BE"},
        ])

        def debtor_rows() -> Iterator[dict[str, Any]]:
            for n in range(1, debtors + 1):
                paused = ON + dt.timedelta(days=rng.randint(-5, 20)) if rng.random() < 0.02 \
                    else None
                yield {"id": n, "creditor_id": 1 if n % 5 else 2, "ref": f"D{n:07d}",
                       "name": f"Debtor {n}", "segment": rng.choice(SEGMENTS),
                       "country": "FR" if n % 5 else "BE", "language": "fr",
                       "payment_method": rng.choice(["transfer", "direct_debit", "cheque"]),
                       "sales_rep": rng.choice(["alice", "bruno", "chloe", None]),
                       "risk": rng.randint(0, 100) if rng.random() < 0.7 else None,
                       "paused_until": paused}

        for batch in _batches(debtor_rows()):
            conn.execute(insert(DEBTOR), batch)
        tags = [{"debtor_id": n, "tag": "vip"} for n in range(1, debtors + 1)
                if rng.random() < 0.05]
        conn.execute(insert(DEBTOR_TAG), tags)

        open_ids: list[tuple[int, int, int, dt.date, int, str]] = []

        def invoice_rows() -> Iterator[dict[str, Any]]:
            for n in range(1, invoices + 1):
                debtor = rng.randint(1, debtors)
                creditor = 1 if debtor % 5 else 2
                is_open = rng.random() < open_share
                # Open invoices spread from not yet due to a year late; paid ones older.
                due = ON + dt.timedelta(days=rng.randint(-200, 30) if is_open
                                        else rng.randint(-700, -1))
                issue = due - dt.timedelta(days=rng.choice((15, 30, 30, 45, 60)))
                currency = "CHF" if rng.random() < 0.08 else "EUR"
                amount = rng.randint(2_000, 2_000_000)
                paid = 0 if is_open and rng.random() < 0.8 else (
                    rng.randint(1, amount - 1) if is_open else amount)
                if is_open:
                    open_ids.append((n, creditor, debtor, due, amount - paid, currency))
                yield {"id": n, "creditor_id": creditor, "debtor_id": debtor,
                       "number": f"F{n:08d}", "issue_date": issue, "due_date": due,
                       "currency": currency, "amount_minor": amount, "paid_minor": paid,
                       "balance_minor": amount - paid, "status": "open" if is_open else "paid",
                       "dispute_reason": "contested" if is_open and rng.random() < 0.01
                       else None,
                       "stage": "reminder", "attrs": {"region": rng.choice(["ARA", "IDF"])}}

        for batch in _batches(invoice_rows()):
            conn.execute(insert(INVOICE), batch)
        conn.execute(insert(PROMISE), [
            {"creditor_id": 1 if n % 5 else 2, "debtor_id": n,
             "promised_on": ON + dt.timedelta(days=rng.randint(-20, 20)), "status": "open"}
            for n in range(1, debtors + 1) if rng.random() < 0.02
        ])

        # History: a second-level letter of the `standard` policy on part of the invoices
        # more than 15 days late, sent 5 to 40 days ago.
        history = [row for row in open_ids
                   if (ON - row[3]).days >= 20 and rng.random() < history_share]

        def action_rows() -> Iterator[dict[str, Any]]:
            for n, (invoice, creditor, debtor, _due, _balance, _cur) in enumerate(history, 1):
                acted = ON - dt.timedelta(days=rng.randint(5, 40))
                yield {"id": n, "idempotency_key": f"hist|{invoice}", "creditor_id": creditor,
                       "debtor_id": debtor, "created_on": acted, "channel": "letter",
                       "template": "relance_2", "state": "sent", "proposed_by": "history",
                       "content_hash": "", "output": {}}

        acted_on: dict[int, dt.date] = {}
        for batch in _batches(action_rows()):
            conn.execute(insert(ACTION), batch)
            for row in batch:
                acted_on[row["id"]] = row["created_on"]

        def item_rows() -> Iterator[dict[str, Any]]:
            for n, (invoice, _c, _d, _due, balance, currency) in enumerate(history, 1):
                yield {"action_id": n, "invoice_id": invoice, "policy": "standard",
                       "rule": "r2", "acted_on": acted_on[n], "step": 0, "state": "active",
                       "balance_minor": balance, "currency": currency, "facts": {}}

        for batch in _batches(item_rows()):
            conn.execute(insert(ACTION_ITEM), batch)

        def level_rows() -> Iterator[dict[str, Any]]:
            for n, (invoice, *_rest) in enumerate(history, 1):
                yield {"invoice_id": invoice, "policy": "standard", "rule": "r2",
                       "acted_on": acted_on[n]}

        for batch in _batches(level_rows()):
            conn.execute(insert(INVOICE_LEVEL), batch)
        if store.dialect == "postgresql":
            for table in ("creditor", "debtor", "invoice", "action"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    counts = {"invoices": invoices, "open": len(open_ids), "debtors": debtors,
              "history": len(history)}
    if verbose:
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s", flush=True)
    return counts


if __name__ == "__main__":
    generate(open_store(sys.argv[1]), int(sys.argv[2]))
