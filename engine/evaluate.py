"""Which rule acts on which invoice on day D: the two evaluators with one meaning.

- `evaluate_sql` runs one compiled query per policy (`engine.sqlcompile`) and streams
  back only the invoices that get an action, with the facts to record;
- `evaluate_python` loads the facts (`engine.facts.load_facts`) and decides with the
  reference interpreter (`engine.levels.decide`).

Both yield the same `Acting` records for the same book; the differential test holds
them to it. Runs use the SQL; explain and the tests use the interpreter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from relance.dsl.ast import And, Condition, Policy, Rule
from relance.engine.durations import elapsed
from relance.engine.facts import CREDITOR, load_facts
from relance.engine.interpret import DURATION_FIELDS, Probe, facts_read, probes
from relance.engine.levels import decide
from relance.engine.sqlcompile import CompiledPolicy, compile_policy
from relance.store.money import minor_units

STREAM_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class Acting:
    """A rule of a policy acting on one invoice: what becomes an action item."""

    policy: Policy
    rule: Rule
    invoice_id: int
    number: str
    creditor_id: int
    debtor_id: int
    balance_minor: int
    currency: str
    facts: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.policy.name, self.rule.identity, self.invoice_id)


def audited_condition(policy: Policy, rule: Rule) -> Condition:
    """What the audit records the facts of: the policy's scope and the rule's condition."""
    if policy.scope is None:
        return rule.condition
    return And((policy.scope, rule.condition))


def creditor_countries(conn: Connection) -> list[str]:
    """The creditors' countries: business-day bounds are computed once for each."""
    return sorted(
        {row[0] for row in conn.execute(select(CREDITOR.c.country).distinct()) if row[0]}
    )


# Where the compiled query puts the value behind each field (see `compile_policy`).
_ROW_COLUMNS = {
    "overdue": "due_date", "due_in": "due_date", "age": "issue_date",
    "last_action": "last_action_on", "amount": "amount_minor", "balance": "balance_minor",
    "creditor": "code",
}


def _as_date(value: Any) -> Any:
    # SQLite hands back a scalar sub-query's date as text.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int:
    return minor_units(currency)


def money_text(minor: int, currency: str) -> str:
    """`1250.00 EUR`: the text `to_decimal` gives, without building a Decimal per row."""
    exponent = _exponent(currency)
    if exponent == 0:
        return f"{minor} {currency}"
    units, rest = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{units}.{rest:0{exponent}d} {currency}"


Row = dict[str, Any]
Getter = Callable[[Row], Any]


def _raw(kind: str, name: str, compiled: CompiledPolicy, on: dt.date) -> Getter:
    """How to read the value behind a probe from a row of the compiled query."""
    if kind == "tag":
        column = f"tag_{compiled.tags.index(name)}"
        return lambda m: m[column]
    if kind == "after":
        column = f"after_{compiled.after_rules.index(name)}"
        return lambda m: _as_date(m[column])
    if name.startswith("attr."):
        key = name[len("attr."):]

        def attr(m: Row) -> Any:
            value = (m["attrs"] or {}).get(key)
            return None if value is None else str(value)

        return attr
    if name == "paused":
        return lambda m: m["paused_until"] is not None and m["paused_until"] >= on
    if name == "disputed":
        return lambda m: m["dispute_reason"] is not None
    if name in ("promised", "promise_broken", "in_plan"):
        column = f"flag_{name}"
        return lambda m: m[column]
    if name == "stage":
        return lambda m: str(m["stage"])
    if name == "last_action":
        return lambda m: _as_date(m["last_action_on"])
    column = _ROW_COLUMNS.get(name, name)
    if kind == "money":
        return lambda m: int(m[column])
    return lambda m: m[column]


def _formatter(probe: Probe, compiled: CompiledPolicy, on: dt.date) -> Getter:
    """A probe's recorded value from a row: the same text as `interpret.record`."""
    _key, kind, name, business = probe
    raw = _raw(kind, name, compiled, on)
    if kind == "duration":
        sign = DURATION_FIELDS[name][1]
        unit = "bd" if business else "d"

        def duration(m: Row) -> Any:
            since = raw(m)
            if since is None:
                return None
            days = elapsed(since, on, business=business, country=m["creditor_country"])
            return f"{sign * days}{unit}"

        return duration
    if kind == "money":
        return lambda m: money_text(raw(m), m["currency"])
    if kind in ("flag", "tag"):
        return lambda m: bool(raw(m))

    def plain(m: Row) -> Any:
        value = raw(m)
        return value.isoformat() if isinstance(value, dt.date) else value

    return plain


def _recorder(wanted: list[Probe], compiled: CompiledPolicy, on: dt.date
              ) -> Callable[[Row], dict[str, Any]]:
    steps = [(probe[0], _formatter(probe, compiled, on)) for probe in wanted]
    return lambda m: {key: step(m) for key, step in steps}


def evaluate_sql(
    conn: Connection, policies: Sequence[Policy], on: dt.date
) -> Iterator[Acting]:
    """The actions of day `on`, decided by one streamed query per policy (plus, for the
    rows whose rule records values computed by sub-queries, one query per batch)."""
    countries = creditor_countries(conn)
    for policy in policies:
        compiled = compile_policy(policy, on, countries)
        result = conn.execute(
            compiled.statement,
            execution_options={"stream_results": True, "yield_per": STREAM_BATCH},
        )
        recorders = [_recorder(probes(audited_condition(policy, rule)), compiled, on)
                     for rule in policy.rules]
        keys = list(result.keys())
        for rows in result.partitions():
            batch = [dict(zip(keys, row, strict=True)) for row in rows]
            _add_extras(conn, compiled, batch)
            for m in batch:
                acting = m["acting"]
                yield Acting(
                    policy, policy.rules[acting], m["id"], m["number"], m["creditor_id"],
                    m["debtor_id"], m["balance_minor"], m["currency"], recorders[acting](m),
                )


def _add_extras(conn: Connection, compiled: CompiledPolicy, batch: list[dict[str, Any]]
                ) -> None:
    """Fetch, in one query per kind of rule, the sub-query values the facts record."""
    by_needs: dict[frozenset[str], dict[int, dict[str, Any]]] = {}
    for m in batch:
        needs = compiled.needs[m["acting"]]
        if needs:
            by_needs.setdefault(needs, {})[m["id"]] = m
    # SQLite before 3.32 takes at most 999 parameters in a statement.
    size = 20_000 if conn.dialect.name == "postgresql" else 900
    for needs, rows in by_needs.items():
        ids = list(rows)
        for start in range(0, len(ids), size):
            statement = compiled.extras_statement(needs, ids[start : start + size],
                                                  conn.dialect.name)
            for extra in conn.execute(statement):
                rows[extra.id].update(extra._mapping)


def evaluate_python(
    conn: Connection, policies: Sequence[Policy], on: dt.date,
    *, invoice_ids: Sequence[int] | None = None,
) -> Iterator[Acting]:
    """The same, decided by the reference interpreter over facts loaded in Python."""
    book = load_facts(conn, on, invoice_ids=invoice_ids)
    for policy in policies:
        for facts in book:
            decision = decide(policy, facts)
            rule = decision.acting
            if rule is None:
                continue
            yield Acting(
                policy=policy, rule=rule, invoice_id=facts.invoice_id, number=facts.number,
                creditor_id=facts.creditor_id, debtor_id=facts.debtor_id,
                balance_minor=facts.balance_minor, currency=facts.currency,
                facts=facts_read(audited_condition(policy, rule), facts, policy.name),
            )
