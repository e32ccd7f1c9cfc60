"""The engine against its floor and a naive loop, on a large book. Run by hand:

    .venv/bin/python bench/engine_bench.py                       # SQLite, 1,000,000 invoices
    .venv/bin/python bench/engine_bench.py --db postgresql+psycopg://postgres@127.0.0.1/test \
        --schema bench_engine --invoices 1000000

It generates the book once (`bench/engine_books.py`, kept for later runs), then measures
ten representative rules (levels, segments, amounts, history, grouping), each in a
fresh process so that peak memory is its own, in interleaved rounds (`--repeat`, 3 by
default) of which each keeps its best time:

- engine: `decide_day` — `evaluate_sql` (the compiled queries, rows streamed into
  action items with their facts) and the grouping into actions: what a run decides;
- engine run: `run_day(dry_run=True)`: the same plus every insert (actions, items,
  levels, events), rolled back;
- floor: the same rules written by hand in SQL, one query per policy;
- naive: ORM objects for every open invoice and a per-invoice Python loop.

All four must find the same (policy, invoice, rule) triples; the table shows seconds and
peak memory side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, text

from relance.dsl.loader import LoadedRules, load_text
from relance.engine.durations import threshold
from relance.store.db import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.engine_books import ON, generate

RULES = """
policy standard for segment in [smb, franchisee] and not paused
rule prevenance: when due_in <= 5d and due_in >= 0d then send email 'prevenance'
rule r1: when overdue >= 1d and overdue < 15d and not disputed then send email 'relance_1'
rule r2: when overdue >= 15d and balance >= 50 EUR then send letter 'relance_2'
rule med: when overdue >= 45d and after r2 by 15d and not promised
  then send letter 'mise_en_demeure', requires approval
rule esc: when overdue >= 60d and after med by 15d and not disputed then escalate to amicable

policy key_accounts for segment = key_account and not paused
rule ka_call: when overdue >= 10bd and debtor_overdue >= 5000 EUR then call with priority high
rule ka_rep: when overdue >= 30d and 'vip' in tags then notify sales_rep 'late_alert'

policy consumers for segment = individual and not paused
rule sms: when overdue >= 3d and reminders_sent < 3 then send sms 'rappel'
rule mail: when overdue >= 20d and last_action >= 7d then send email 'relance_2', every 14d

policy public for segment = public_body and not paused
rule pub: when overdue >= 30d and amount >= 1000 EUR then send letter 'public', per invoice
"""


def rules() -> LoadedRules:
    loaded = load_text(RULES, "bench.rules")
    if not loaded.ok:
        raise SystemExit(loaded.render())
    return loaded


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- the engine


def measure_engine(store: Store) -> tuple[float, set[tuple[str, int, str]]]:
    from relance.engine.run import decide_day, gc_paused

    loaded = rules()
    started = time.perf_counter()
    # As `run_day` does: a second connection reads beside the first.
    with store.engine.connect() as conn, gc_paused():
        groups = decide_day(conn, loaded.policies, ON, reader=store.engine)
    elapsed = time.perf_counter() - started
    items = [item.acting for pending in groups for item in pending.items]
    print(f"  engine: {len(items)} items in {len(groups)} actions", file=sys.stderr)
    return elapsed, {(a.policy.name, a.invoice_id, a.rule.identity) for a in items}


def measure_engine_run(store: Store) -> tuple[float, set[tuple[str, int, str]]]:
    from relance.engine.run import run_day

    started = time.perf_counter()
    report = run_day(store, rules(), ON, actor="bench", dry_run=True)
    elapsed = time.perf_counter() - started
    print(f"  engine run: {report.items_created} items, {report.actions_created} actions",
          file=sys.stderr)
    return elapsed, set()


# --------------------------------------------------------------------------- the floor

FLOOR_LEVEL = """CASE il.rule {whens} ELSE -1 END"""
VOID = "('rejected', 'cancelled', 'failed')"


def _level(identities: list[str]) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {n}" for n, name in enumerate(identities))
    return f"CASE il.rule {whens} ELSE -1 END"


def floor_queries(dialect: str) -> dict[str, str]:
    """The ten rules, written by hand (dates are parameters computed in Python)."""
    base = """FROM invoice i JOIN debtor d ON d.id = i.debtor_id
      JOIN creditor c ON c.id = i.creditor_id
      LEFT JOIN invoice_level il ON il.invoice_id = i.id AND il.policy = '{policy}'
      WHERE i.balance_minor > 0 AND i.status <> 'cancelled'
        AND (il.acted_on IS NULL OR il.acted_on <> :d)
        AND NOT (d.paused_until IS NOT NULL AND d.paused_until >= :d)"""
    after = """EXISTS (SELECT 1 FROM action_item ai JOIN action a ON a.id = ai.action_id
        WHERE ai.invoice_id = i.id AND ai.policy = '{policy}' AND ai.rule = '{rule}'
          AND ai.state = 'active' AND a.state NOT IN """ + VOID + """
          AND ai.acted_on < :d AND ai.acted_on <= :d15)"""
    std_level = _level(["prevenance", "r1", "r2", "med", "esc"])
    standard = f"""SELECT id, acting FROM (SELECT i.id, CASE
        WHEN i.due_date <= :d60 AND {after.format(policy='standard', rule='med')}
             AND i.dispute_reason IS NULL AND {std_level} < 4 THEN 4
        WHEN i.due_date <= :d45 AND {after.format(policy='standard', rule='r2')}
             AND NOT EXISTS (SELECT 1 FROM promise p WHERE p.debtor_id = i.debtor_id
                 AND (p.invoice_id IS NULL OR p.invoice_id = i.id) AND p.status = 'open'
                 AND p.promised_on >= :d)
             AND {std_level} < 3 THEN 3
        WHEN i.due_date <= :d15 AND upper(i.currency) = 'EUR' AND i.balance_minor >= 5000
             AND {std_level} < 2 THEN 2
        WHEN i.due_date <= :d1 AND i.due_date > :d15 AND i.dispute_reason IS NULL
             AND {std_level} < 1 THEN 1
        WHEN i.due_date >= :d AND i.due_date <= :dplus5 AND {std_level} < 0 THEN 0
        END AS acting
      {base.format(policy='standard')}
        AND lower(d.segment) IN ('smb', 'franchisee')) x WHERE acting IS NOT NULL"""
    ka_level = _level(["ka_call", "ka_rep"])
    key_accounts = f"""SELECT id, acting FROM (SELECT i.id, CASE
        WHEN i.due_date <= :d30 AND EXISTS (SELECT 1 FROM debtor_tag t
             WHERE t.debtor_id = i.debtor_id AND lower(t.tag) = 'vip')
             AND {ka_level} < 1 THEN 1
        WHEN ((c.country = 'FR' AND i.due_date <= :bd_fr) OR
              (c.country = 'BE' AND i.due_date <= :bd_be))
             AND upper(i.currency) = 'EUR' AND {ka_level} < 0
             AND (SELECT SUM(CASE WHEN o.due_date <= :d1 THEN o.balance_minor ELSE 0 END)
                  FROM invoice o WHERE o.debtor_id = i.debtor_id
                    AND o.currency = i.currency AND o.balance_minor > 0
                    AND o.status <> 'cancelled') >= 500000 THEN 0
        END AS acting
      {base.format(policy='key_accounts')}
        AND lower(d.segment) = 'key_account') x WHERE acting IS NOT NULL"""
    co_level = _level(["sms", "mail"])
    consumers = f"""SELECT id, acting FROM (SELECT i.id, CASE
        WHEN i.due_date <= :d20 AND (h.last_on IS NULL OR h.last_on <= :d7)
             AND ({co_level} < 1 OR ({co_level} = 1 AND il.acted_on <= :d14)) THEN 1
        WHEN i.due_date <= :d3 AND COALESCE(h.sent, 0) < 3 AND {co_level} < 0 THEN 0
        END AS acting
      {base.format(policy='consumers').replace('WHERE', '''LEFT JOIN (
            SELECT ai.invoice_id, COUNT(DISTINCT a.id) AS sent, MAX(ai.acted_on) AS last_on
            FROM action_item ai JOIN action a ON a.id = ai.action_id
            WHERE ai.acted_on < :d AND ai.state = 'active' AND a.state NOT IN ''' + VOID + '''
              AND a.channel IN ('call', 'email', 'letter', 'sms')
            GROUP BY ai.invoice_id) h ON h.invoice_id = i.id
      WHERE''', 1)}
        AND lower(d.segment) = 'individual') x WHERE acting IS NOT NULL"""
    public = f"""SELECT id, acting FROM (SELECT i.id, CASE
        WHEN i.due_date <= :d30 AND upper(i.currency) = 'EUR' AND i.amount_minor >= 100000
             AND {_level(['pub'])} < 0 THEN 0
        END AS acting
      {base.format(policy='public')}
        AND lower(d.segment) = 'public_body') x WHERE acting IS NOT NULL"""
    del dialect
    return {"standard": standard, "key_accounts": key_accounts, "consumers": consumers,
            "public": public}


def measure_floor(store: Store, on: dt.date = ON) -> tuple[float, set[tuple[str, int, str]]]:
    """The hand SQL's (policy, invoice, rule) for the day `on`, and its seconds."""
    identities = {policy.name: [r.identity for r in policy.rules] for policy in rules().policies}
    started = time.perf_counter()
    params: dict[str, Any] = {"d": on, "dplus5": on + dt.timedelta(days=5)}
    for days in (1, 3, 7, 14, 15, 20, 30, 45, 60):
        params[f"d{days}"] = on - dt.timedelta(days=days)
    params["bd_fr"] = threshold(on, 10, business=True, country="FR", subdivision=None)
    params["bd_be"] = threshold(on, 10, business=True, country="BE", subdivision=None)
    found: set[tuple[str, int, str]] = set()
    with store.engine.connect() as conn:
        for policy, query in floor_queries(store.dialect).items():
            for invoice_id, acting in conn.execute(text(query), params):
                found.add((policy, invoice_id, identities[policy][acting]))
    return time.perf_counter() - started, found


# --------------------------------------------------------------------------- naive


def measure_naive(store: Store) -> tuple[float, set[tuple[str, int, str]]]:
    """ORM objects for the open invoices and their history; the rules in a Python loop."""
    from sqlalchemy.orm import selectinload

    from relance.engine.facts import Facts, ItemRecord, Level
    from relance.engine.levels import decide
    from relance.store.models import (
        Action,
        ActionItem,
        Creditor,
        Debtor,
        Invoice,
        InvoiceLevel,
        Promise,
    )

    loaded = rules()
    started = time.perf_counter()
    found: set[tuple[str, int, str]] = set()
    with store.session() as session:
        creditors = {c.id: c for c in session.scalars(select(Creditor))}
        invoices = session.scalars(
            select(Invoice).where(Invoice.balance_minor > 0)
            .options(selectinload(Invoice.debtor).selectinload(Debtor.tags))
        ).all()
        promises: dict[int, list[Promise]] = {}
        for promise in session.scalars(select(Promise)):
            promises.setdefault(promise.debtor_id, []).append(promise)
        levels: dict[int, dict[str, Level]] = {}
        for level in session.scalars(select(InvoiceLevel)):
            levels.setdefault(level.invoice_id, {})[level.policy] = Level(level.rule,
                                                                            level.acted_on)
        history: dict[int, list[tuple[ActionItem, Action]]] = {}
        for item, action in session.execute(
                select(ActionItem, Action).join(Action, Action.id == ActionItem.action_id)):
            history.setdefault(item.invoice_id, []).append((item, action))
        totals: dict[tuple[int, str], int] = {}
        for inv in invoices:
            if inv.due_date <= ON - dt.timedelta(days=1):
                key = (inv.debtor_id, inv.currency)
                totals[key] = totals.get(key, 0) + inv.balance_minor
        for inv in invoices:
            debtor = inv.debtor
            creditor = creditors[inv.creditor_id]
            covering = [p for p in promises.get(inv.debtor_id, [])
                        if p.invoice_id in (None, inv.id)]
            items = sorted(history.get(inv.id, []), key=lambda pair: pair[0].acted_on)
            records = tuple(
                ItemRecord(item.id, action.id, item.policy, item.rule, item.acted_on,
                           item.state == "active" and action.state not in
                           ("rejected", "cancelled", "failed"),
                           action.channel in ("letter", "email", "sms", "call"))
                for item, action in items if item.acted_on < ON)
            facts = Facts(
                on=ON, invoice_id=inv.id, number=inv.number, creditor_id=creditor.id,
                creditor_code=creditor.code, creditor_country=creditor.country,
                creditor_region=creditor.calendar_region,
                debtor_id=debtor.id, debtor_ref=debtor.ref, issue_date=inv.issue_date,
                due_date=inv.due_date, currency=inv.currency, amount_minor=inv.amount_minor,
                balance_minor=inv.balance_minor, disputed=inv.disputed, stage=str(inv.stage),
                attrs=inv.attrs, segment=debtor.segment, country=debtor.country,
                payment_method=debtor.payment_method, language=debtor.language,
                sales_rep=debtor.sales_rep, risk=debtor.risk, paused_until=debtor.paused_until,
                tags=frozenset(t.tag.lower() for t in debtor.tags),
                promised=any(p.status == "open" and p.promised_on >= ON for p in covering),
                debtor_overdue_minor=totals.get((inv.debtor_id, inv.currency), 0),
                levels=levels.get(inv.id, {}), items=records,
            )
            counted = [r for r in records if r.counts]
            for r in counted:
                facts.first_acted.setdefault((r.policy, r.rule), r.acted_on)
            sent = {r.action_id: r.acted_on for r in counted if r.outbound}
            facts.reminders_sent = len(sent)
            facts.last_action_on = max(sent.values(), default=None)
            for policy in loaded.policies:
                acting = decide(policy, facts).acting
                if acting is not None:
                    found.add((policy.name, inv.id, acting.identity))
    return time.perf_counter() - started, found


# The dry run last: on PostgreSQL its rolled-back inserts leave dead rows (in
# invoice_level, action_item, ...) that the reads measured after it would wade through.
MEASURES = {"engine": measure_engine, "floor": measure_floor, "naive": measure_naive,
            "engine run": measure_engine_run}


def _store(url: str, schema: str | None) -> Store:
    return open_store(url, schema=schema)


def ensure_indexes(store: Store) -> None:
    """A book generated before the schema gained an index gets it now (the initial
    migration is regenerated in place, so an existing book does not see new indexes)."""
    from relance.store.models import Base, present_on

    with store.engine.begin() as conn:
        inspector = inspect(conn)
        added = []
        for table in Base.metadata.sorted_tables:
            present = {index["name"] for index in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in present and present_on(index, store.dialect):
                    index.create(conn)
                    added.append(str(index.name))
        if added:
            print(f"added to the book: {', '.join(added)}", flush=True)
            if store.dialect == "sqlite":  # PostgreSQL is analysed below, before each run
                conn.exec_driver_sql("ANALYZE")


def child(name: str, url: str, schema: str | None, out: Path) -> None:
    store = _store(url, schema)
    elapsed, found = MEASURES[name](store)
    out.write_text(json.dumps({"seconds": elapsed, "peak_mb": peak_mb(),
                               "found": sorted(list(t) for t in found)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema to use")
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; each measure keeps its best (default 3)")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.db or f"sqlite:////tmp/relance-bench/engine-{args.invoices}.sqlite"
    if args.measure:
        child(args.measure, url, args.schema, Path(args.out))
        return
    if args.schema:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.schema}"'))
        admin.dispose()
    store = _store(url, args.schema)
    with store.engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(text("invoice"))).scalar_one()
    if present == 0:
        generate(store, args.invoices)
    elif present != args.invoices:
        raise SystemExit(f"{url} holds {present} invoices, not {args.invoices}")
    else:
        ensure_indexes(store)
    with store.engine.connect() as conn:
        open_count = conn.execute(text("SELECT COUNT(*) FROM invoice WHERE balance_minor > 0")
                                  ).scalar_one()
    if store.dialect == "postgresql":
        # Earlier dry runs (rolled back) leave dead rows; autovacuum would clear them.
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE invoice, invoice_level, action, action_item, event, debtor, "
                "promise, debtor_tag")
    store.dispose()
    print(f"{store.dialect}: {args.invoices:,} invoices, {open_count:,} open, on {ON}; "
          f"best of {args.repeat} rounds")
    names = [name for name in MEASURES if not (name == "naive" and args.skip_naive)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    # Rounds rather than each measure N times in a row: a shared machine's speed drifts
    # over minutes, and interleaving lets the drift touch every measure alike. The dry
    # run goes once, last (see MEASURES).
    rounds = [[name for name in names if name != "engine run"]] * args.repeat
    rounds[-1] = rounds[-1] + ["engine run"]
    for round_number, round_names in enumerate(rounds, start=1):
        for name in round_names:
            out = Path(f"/tmp/relance-bench/{name.replace(' ', '_')}.json")
            out.parent.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, __file__, "--db", url, "--invoices", str(args.invoices),
                       "--measure", name, "--out", str(out)]
            if args.schema:
                command += ["--schema", args.schema]
            subprocess.run(command, check=True)
            result = json.loads(out.read_text())
            results[name].append(result)
            print(f"  round {round_number}  {name:<11} {result['seconds']:8.2f} s   "
                  f"peak {result['peak_mb']:7.0f} MB", flush=True)
    reference = results["floor"][0]["found"]
    best = {name: min(r["seconds"] for r in runs) for name, runs in results.items()}
    floor = best["floor"]
    print(f"\n{'':<11} {'best s':>8} {'median s':>9} {'x floor':>8} {'peak MB':>8}  "
          "same decisions")
    for name, runs in results.items():
        found = [r["found"] for r in runs if r["found"]]
        same = "-" if not found else ("yes" if all(f == reference for f in found) else "NO")
        median = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        print(f"{name:<11} {best[name]:8.2f} {median:9.2f} {best[name] / floor:8.2f} "
              f"{peak:8.0f}  {same}")
    if "naive" in best:
        print(f"\nnaive / engine: {best['naive'] / best['engine']:.1f}x (best against best)")


if __name__ == "__main__":
    main()
