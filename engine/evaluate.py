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
from functools import lru_cache
from typing import Any, NamedTuple

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
# PostgreSQL plans a query read through a server-side cursor for its first rows and
# without parallel workers: the policy queries ran a quarter slower that way. They return
# only the acting invoices, so their rows are fetched whole there (SQLite steps through
# its rows either way).
_STREAMING: dict[bool, dict[str, Any]] = {
    True: {},  # `yield_per` would open a server-side cursor too
    False: {"stream_results": True, "yield_per": STREAM_BATCH},
}


class Acting(NamedTuple):
    """A rule of a policy acting on one invoice: what becomes an action item.

    A named tuple rather than a frozen dataclass: a first run builds one per acting
    invoice, and a frozen dataclass's constructor costs ten times a tuple's."""

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


# A row of the compiled query, read by position: no dict is built per row.
Row = Sequence[Any]
Getter = Callable[[Row], Any]
Columns = dict[str, int]  # column name -> position in the row


def _raw(kind: str, name: str, compiled: CompiledPolicy, on: dt.date, at: Columns
         ) -> int | Getter:
    """Where to read the value behind a probe in a row of the compiled query: a column's
    position when it is the column's value as is, else how to compute it."""
    if kind == "tag":
        return at[f"tag_{compiled.tags.index(name)}"]
    if kind == "after":
        column = at[f"after_{compiled.after_rules.index(name)}"]
        return lambda m: _as_date(m[column])
    if name.startswith("attr."):
        key = name[len("attr."):]
        attrs = at["attrs"]

        def attr(m: Row) -> Any:
            value = (m[attrs] or {}).get(key)
            return None if value is None else str(value)

        return attr
    if name == "paused":
        paused_until = at["paused_until"]
        return lambda m: m[paused_until] is not None and m[paused_until] >= on
    if name == "disputed":
        dispute_reason = at["dispute_reason"]
        return lambda m: m[dispute_reason] is not None
    if name in ("promised", "promise_broken", "in_plan"):
        return at[f"flag_{name}"]
    if name == "stage":
        stage = at["stage"]
        return lambda m: str(m[stage])
    if name == "last_action":
        last_action_on = at["last_action_on"]
        return lambda m: _as_date(m[last_action_on])
    return at[_ROW_COLUMNS.get(name, name)]


_MISSING = object()


def _formatter(probe: Probe, compiled: CompiledPolicy, on: dt.date, at: Columns
               ) -> Getter:
    """A probe's recorded value from a row: the same text as `interpret.record`."""
    _key, kind, name, business = probe
    raw = _raw(kind, name, compiled, on, at)
    # A plain column is read in place: one call per recorded value rather than two.
    column = raw if isinstance(raw, int) else -1
    read: Getter = (lambda m: m[column]) if isinstance(raw, int) else raw
    if kind == "duration":
        sign = DURATION_FIELDS[name][1]
        unit = "bd" if business else "d"
        country_at = at["creditor_country"]
        # Few distinct dates (and countries) recur over many rows: each text is worked
        # out once (business days walk a calendar).
        texts: dict[tuple[Any, Any], Any] = {}

        def duration(m: Row) -> Any:
            since = m[column] if column >= 0 else read(m)
            key = (since, m[country_at] if business else None)
            text = texts.get(key, _MISSING)
            if text is _MISSING:
                if since is None:
                    text = None
                else:
                    days = elapsed(since, on, business=business, country=m[country_at])
                    text = f"{sign * days}{unit}"
                texts[key] = text
            return text

        return duration
    if kind == "money":
        currency = at["currency"]
        return lambda m: money_text(int(read(m)), m[currency])
    if kind in ("flag", "tag"):
        return lambda m: bool(read(m))

    def plain(m: Row) -> Any:
        value = m[column] if column >= 0 else read(m)
        return value.isoformat() if isinstance(value, dt.date) else value

    return plain


def _recorder(wanted: list[Probe], compiled: CompiledPolicy, on: dt.date, at: Columns
              ) -> Callable[[Row], dict[str, Any]]:
    steps = [(probe[0], _formatter(probe, compiled, on, at)) for probe in wanted]
    return lambda m: {key: step(m) for key, step in steps}


def evaluate_sql(
    conn: Connection, policies: Sequence[Policy], on: dt.date
) -> Iterator[Acting]:
    """The actions of day `on`, decided by one streamed query per policy."""
    countries = creditor_countries(conn)
    for policy in policies:
        compiled = compile_policy(policy, on, countries)
        result = conn.execute(compiled.statement, execution_options=_STREAMING[
            conn.dialect.name == "postgresql"])
        at = {name: index for index, name in enumerate(result.keys())}
        recorders = [_recorder(probes(audited_condition(policy, rule)), compiled, on, at)
                     for rule in policy.rules]
        rules = policy.rules
        id_, number, creditor, debtor, balance, currency, acting_at = (
            at[name] for name in ("id", "number", "creditor_id", "debtor_id",
                                  "balance_minor", "currency", "acting"))
        for rows in result.partitions(STREAM_BATCH):
            for row in rows:
                acting = row[acting_at]
                yield Acting(policy, rules[acting], row[id_], row[number], row[creditor],
                             row[debtor], row[balance], row[currency],
                             recorders[acting](row))


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
