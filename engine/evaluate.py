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
from collections.abc import Collection, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from relance.dsl.ast import And, Condition, Policy, Rule
from relance.engine.durations import Calendar
from relance.engine.facts import CREDITOR, DEBTOR, load_facts
from relance.engine.fetching import SQLITE_PARTS, policy_rows
from relance.engine.interpret import facts_read, probes
from relance.engine.levels import decide
from relance.engine.recording import recorder
from relance.engine.sqlcompile import DebtorRange, compile_policy


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


def creditor_calendars(conn: Connection) -> list[Calendar]:
    """The creditors' business calendars, (country, calendar region or None), each
    once: business-day bounds are computed once for each."""
    found = conn.execute(
        select(CREDITOR.c.country, CREDITOR.c.calendar_region).distinct()).all()
    return sorted({(str(country), region) for country, region in found if country},
                  key=lambda calendar: (calendar[0], calendar[1] or ""))


def creditor_ids(conn: Connection) -> dict[str, tuple[int, ...]]:
    """The creditors' ids by code, lower-cased as the rules compare codes: read once per
    run, so that `creditor = CODE` compiles to a test of the invoice's creditor_id."""
    found: dict[str, list[int]] = {}
    for creditor_id, code in conn.execute(select(CREDITOR.c.id, CREDITOR.c.code)):
        found.setdefault(str(code).lower(), []).append(int(creditor_id))
    return {code: tuple(sorted(ids)) for code, ids in found.items()}


def creditor_codes(conn: Connection) -> frozenset[str]:
    """Every creditor's code, as stored: what `relance check` may compare the rules'
    `creditor` values with when the book is at hand (`dsl.loader.load_rules`)."""
    return frozenset(str(code) for code in conn.execute(select(CREDITOR.c.code)).scalars())


def debtor_ranges(conn: Connection, parts: int) -> list[DebtorRange | None]:
    """The debtors in `parts` ranges of ids, as many in each as their ids allow; the
    first and last are open, so that every debtor is in one whatever its id."""
    low, high = conn.execute(select(func.min(DEBTOR.c.id), func.max(DEBTOR.c.id))).one()
    if low is None or parts < 2:
        return [None]
    width = -(-(high - low + 1) // parts)  # rounded up
    starts = list(range(low, high + 1, width))
    return [(None if n == 0 else start,
             None if n == len(starts) - 1 else starts[n + 1] - 1)
            for n, start in enumerate(starts)]


def evaluate_sql(
    conn: Connection, policies: Sequence[Policy], on: dt.date, *, reader: Engine | None = None,
    debtor_ids: Collection[int] | None = None,
) -> Iterator[Acting]:
    """The actions of day `on`, decided by one query per policy (`engine.fetching`;
    `reader`: a second connection may read for `conn`, see there); `debtor_ids`: for
    these debtors' invoices only (`engine.run_scope`)."""
    calendars = creditor_calendars(conn)
    creditors = creditor_ids(conn)
    text_dates = conn.dialect.name == "sqlite"
    # Side by side on SQLite, each policy in parts (`engine.fetching`).
    parts = ([None] if reader is None or conn.dialect.name != "sqlite" or debtor_ids is not None
             else debtor_ranges(conn, SQLITE_PARTS))
    # Built one by one as the lanes take them (`engine.fetching`).
    compiled = (compile_policy(policy, on, calendars, debtors=part, creditors=creditors,
                               debtor_ids=debtor_ids)
                for policy in policies for part in parts)
    for query, columns, rows in policy_rows(conn, compiled, reader=reader):
        policy = query.policy
        at = {name: index for index, name in enumerate(columns)}
        recorders = [recorder(probes(audited_condition(policy, rule)), query, on, at,
                              text_dates=text_dates)
                     for rule in policy.rules]
        rules = policy.rules
        acting = at["acting"]
        new = tuple.__new__
        # The query's first columns are Acting's fields, in order (`LEADING`); the tuple
        # is built directly, without the named tuple's Python constructor.
        yield from [
            new(Acting, (policy, rules[m[acting]], m[0], m[1], m[2], m[3], m[4], m[5],
                         recorders[m[acting]](m)))
            for m in rows
        ]


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
