"""`relance simulate --from PAST --until D --replay`: the back-test of the rules.

The replay puts the book back as it was on the first day (`engine.replay_book`), then
runs the real engine day after day, each day's payments received before its run, every
proposed action approved (as `relance simulate` assumes), all in one transaction that is
always rolled back: it writes nothing.

It compares, per policy, what the rules would have done with what was queued for real
over the same days — rule by rule and invoice by invoice: on the same day, on another
day, only for real (not replayed), only in the replay — and, for both, how long
invoices took to be paid after each level, and the share paid before an escalation.
Payments are the real ones on their real dates: the replay says when the rules would
have acted, not whether debtors would have paid otherwise.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from relance.dsl.ast import Policy
from relance.engine.facts import ACTION, ACTION_ITEM, DEBTOR, INVOICE
from relance.engine.replay_book import BookTimeline, Limits, rewind
from relance.engine.run import lock_run_date, run_in_session
from relance.engine.simulate import (
    MAX_DAYS,
    SimulatedAction,
    approve_everything,
    queued_actions,
)
from relance.kernel.display import show_date
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.settings import PayerSettings
from relance.store.db import Store
from relance.store.models import ActionState

SAME_DAY = "same_day"
OTHER_DAY = "other_day"
NOT_REPLAYED = "not_replayed"  # queued for real, not by the replay
REPLAY_ONLY = "replay_only"  # queued by the replay, not for real
OUTCOMES = (SAME_DAY, OTHER_DAY, NOT_REPLAYED, REPLAY_ONLY)


@dataclass(frozen=True)
class Trace:
    """One rule acting on one invoice on one day (an action item)."""

    on: dt.date
    policy: str
    rule: str
    step: int
    invoice_id: int
    invoice: str
    debtor: str
    channel: str
    state: str


@dataclass(frozen=True)
class Comparison:
    """A rule on an invoice, as queued for real and as replayed."""

    outcome: str
    policy: str
    rule: str
    invoice: str
    debtor: str
    actual_on: dt.date | None
    replayed_on: dt.date | None

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "policy": self.policy, "rule": self.rule,
                "invoice": self.invoice, "debtor": self.debtor,
                "actual": self.actual_on.isoformat() if self.actual_on else None,
                "replayed": self.replayed_on.isoformat() if self.replayed_on else None}


@dataclass(frozen=True)
class LevelFigures:
    """How invoices fared after one level (rule) of a policy."""

    rule: str
    reached: int  # invoices the rule acted on within the period
    days_to_pay: tuple[int, ...]  # for each invoice paid while at this level

    @property
    def paid(self) -> int:
        return len(self.days_to_pay)

    @property
    def mean_days(self) -> Decimal | None:
        if not self.days_to_pay:
            return None
        return (Decimal(sum(self.days_to_pay)) / len(self.days_to_pay)).quantize(Decimal("0.1"))

    @property
    def median_days(self) -> Decimal | None:
        if not self.days_to_pay:
            return None
        return Decimal(str(statistics.median(self.days_to_pay))).quantize(Decimal("0.1"))

    def to_json(self) -> dict[str, Any]:
        mean, median = self.mean_days, self.median_days
        return {"rule": self.rule, "reached": self.reached, "paid": self.paid,
                "days_to_pay_mean": str(mean) if mean is not None else None,
                "days_to_pay_median": str(median) if median is not None else None}


@dataclass(frozen=True)
class SideFigures:
    """One side (real or replayed) of a policy: invoices acted on, levels, escalation."""

    invoices: int
    levels: tuple[LevelFigures, ...]
    paid_before_escalation: int

    @property
    def share_paid_before_escalation(self) -> Decimal | None:
        """In percent, two decimals; None without an invoice."""
        if not self.invoices:
            return None
        return (Decimal(100 * self.paid_before_escalation) / self.invoices).quantize(
            Decimal("0.01"))

    def to_json(self) -> dict[str, Any]:
        share = self.share_paid_before_escalation
        return {"invoices": self.invoices, "paid_before_escalation": self.paid_before_escalation,
                "share_paid_before_escalation": str(share) if share is not None else None,
                "levels": [level.to_json() for level in self.levels]}


@dataclass(frozen=True)
class PolicyReplay:
    policy: str
    counts: dict[str, int]  # outcome -> rule-on-invoice steps
    sent: int  # of the real ones, those whose action was sent
    actual: SideFigures
    replayed: SideFigures

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, **{key: self.counts.get(key, 0) for key in OUTCOMES},
                "sent": self.sent, "actual": self.actual.to_json(),
                "replayed": self.replayed.to_json()}


@dataclass(frozen=True)
class ReplayReport:
    first: dt.date
    last: dt.date
    actual: tuple[SimulatedAction, ...]
    replayed: tuple[SimulatedAction, ...]
    policies: tuple[PolicyReplay, ...]
    comparisons: tuple[Comparison, ...]
    limits: Limits

    @property
    def differences(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.outcome != SAME_DAY)

    @property
    def reproduced(self) -> bool:
        """Every step queued for real is replayed on its day, and nothing more."""
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(), "until": self.last.isoformat(),
            "reproduced": self.reproduced,
            "actual_actions": len(self.actual), "replayed_actions": len(self.replayed),
            "policies": [policy.to_json() for policy in self.policies],
            "differences": [c.to_json() for c in self.differences],
            "not_reconstructed": self.limits.to_json(),
            "actual": [action.to_json() for action in self.actual],
            "replayed": [action.to_json() for action in self.replayed],
        }


# --------------------------------------------------------------------------- the replay


def replay(
    store: Store, rules: Any, first: dt.date, last: dt.date, *, actor: str = "replay",
    auto_approve: bool = True, rules_dir: Path | None = None,
    payer: PayerSettings = PayerSettings(),
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay the rules from `first` to `last` (inclusive) on the book as it was, and
    compare with what was queued for real; writes nothing."""
    if last < first:
        raise UsageError(_("--until {until} is before the first day {start}").format(
            until=show_date(last), start=show_date(first)))
    if (last - first).days > MAX_DAYS:
        raise UsageError(_("replay at most {count} days at once").format(count=MAX_DAYS))
    with store.sessions() as session:
        session.begin()
        try:
            lock_run_date(session, first)
            conn = session.connection()
            actual_traces = _traces(conn, first, last)
            actual = queued_actions(session, _action_ids(conn, first, last))
            book = rewind(session, first, last)
            day = first
            while day <= last:
                book.apply(session, day)
                run_in_session(session, rules, day, actor=actor, auto_approve=auto_approve,
                               rules_dir=rules_dir, payer=payer)
                approve_everything(session)
                day += dt.timedelta(days=1)
                if progress is not None:
                    progress((day - first).days, (last - first).days + 1)
            replayed_traces = _traces(conn, first, last)
            replayed = queued_actions(session, _action_ids(conn, first, last))
        finally:
            session.rollback()
    comparisons = compare(actual_traces, replayed_traces)
    policies = _policy_figures(rules.policies, actual_traces, replayed_traces, comparisons,
                               book, last)
    return ReplayReport(first=first, last=last, actual=tuple(actual),
                        replayed=tuple(replayed), policies=policies,
                        comparisons=tuple(comparisons), limits=book.limits)


def _action_ids(conn: Connection, first: dt.date, last: dt.date) -> list[int]:
    return list(conn.execute(
        select(ACTION.c.id).where(ACTION.c.created_on >= first, ACTION.c.created_on <= last)
        .order_by(ACTION.c.created_on, ACTION.c.id)).scalars())


def _traces(conn: Connection, first: dt.date, last: dt.date) -> list[Trace]:
    """The action items acted on from `first` to `last`."""
    return [
        Trace(on=row.acted_on, policy=row.policy, rule=row.rule, step=row.step,
              invoice_id=row.invoice_id, invoice=row.number, debtor=row.ref,
              channel=str(row.channel), state=str(row.state))
        for row in conn.execute(
            select(ACTION_ITEM.c.acted_on, ACTION_ITEM.c.policy, ACTION_ITEM.c.rule,
                   ACTION_ITEM.c.step, ACTION_ITEM.c.invoice_id, INVOICE.c.number,
                   DEBTOR.c.ref, ACTION.c.channel, ACTION.c.state)
            .select_from(ACTION_ITEM.join(ACTION, ACTION.c.id == ACTION_ITEM.c.action_id)
                         .join(INVOICE, INVOICE.c.id == ACTION_ITEM.c.invoice_id)
                         .join(DEBTOR, DEBTOR.c.id == INVOICE.c.debtor_id))
            .where(ACTION_ITEM.c.acted_on >= first, ACTION_ITEM.c.acted_on <= last)
            .order_by(ACTION_ITEM.c.acted_on, ACTION_ITEM.c.id)
        )
    ]


# --------------------------------------------------------------------------- comparing


def compare(actual: Sequence[Trace], replayed: Sequence[Trace]) -> list[Comparison]:
    """Pair each rule's steps on each invoice: same days first, then the others in order
    of date; what is left is only real or only replayed."""
    def by_key(traces: Iterable[Trace]) -> dict[tuple[str, str, int, int], list[Trace]]:
        found: dict[tuple[str, str, int, int], list[Trace]] = defaultdict(list)
        for trace in traces:
            found[(trace.policy, trace.rule, trace.step, trace.invoice_id)].append(trace)
        return found

    real, again = by_key(actual), by_key(replayed)
    out: list[Comparison] = []
    for key in sorted(set(real) | set(again)):
        left, right = list(real.get(key, ())), list(again.get(key, ()))
        sample = (left or right)[0]

        def row(outcome: str, one: Trace | None, other: Trace | None,
                sample: Trace = sample) -> Comparison:
            return Comparison(outcome, sample.policy, sample.rule, sample.invoice,
                              sample.debtor, one.on if one else None,
                              other.on if other else None)

        for trace in list(left):
            twin = next((t for t in right if t.on == trace.on), None)
            if twin is not None:
                left.remove(trace)
                right.remove(twin)
                out.append(row(SAME_DAY, trace, twin))
        for one, other in zip(left, right, strict=False):
            out.append(row(OTHER_DAY, one, other))
        out += [row(NOT_REPLAYED, one, None) for one in left[len(right):]]
        out += [row(REPLAY_ONLY, None, other) for other in right[len(left):]]
    out.sort(key=lambda c: (c.policy, min(d for d in (c.actual_on, c.replayed_on) if d),
                            c.invoice, c.rule))
    return out


def side_figures(traces: Sequence[Trace], rule_order: Sequence[str], book: BookTimeline,
                 last: dt.date) -> SideFigures:
    """A policy's invoices acted on, and how they were paid after each level."""
    by_invoice: dict[int, list[Trace]] = defaultdict(list)
    for trace in traces:
        by_invoice[trace.invoice_id].append(trace)
    reached: dict[str, set[int]] = defaultdict(set)
    days: dict[str, list[int]] = defaultdict(list)
    before_escalation = 0
    for invoice_id, steps in by_invoice.items():
        steps.sort(key=lambda t: t.on)
        for trace in steps:
            reached[trace.rule].add(invoice_id)
        paid_on = book.settled_on(invoice_id, last)
        if paid_on is None:
            continue
        # A payment of the day is received before the day's run: an action of that day
        # came after it only when the invoice was still owed something then.
        at_level = [t for t in steps if t.on <= paid_on]
        if at_level:
            days[at_level[-1].rule].append((paid_on - at_level[-1].on).days)
        if not any(t.channel == "escalate" for t in at_level):
            before_escalation += 1
    rules = [rule for rule in rule_order if rule in reached]
    rules += sorted(set(reached) - set(rules))
    return SideFigures(
        invoices=len(by_invoice),
        levels=tuple(LevelFigures(rule, len(reached[rule]), tuple(days.get(rule, ())))
                     for rule in rules),
        paid_before_escalation=before_escalation)


def _policy_figures(policies: Sequence[Policy], actual: Sequence[Trace],
                    replayed: Sequence[Trace], comparisons: Sequence[Comparison],
                    book: BookTimeline, last: dt.date) -> tuple[PolicyReplay, ...]:
    order = {policy.name: [rule.identity for rule in policy.rules] for policy in policies}
    names = [policy.name for policy in policies]
    names += sorted({t.policy for t in (*actual, *replayed)} - set(names))
    out = []
    for name in names:
        real = [t for t in actual if t.policy == name]
        again = [t for t in replayed if t.policy == name]
        counts: dict[str, int] = defaultdict(int)
        for comparison in comparisons:
            if comparison.policy == name:
                counts[comparison.outcome] += 1
        rules = order.get(name, [])
        out.append(PolicyReplay(
            policy=name, counts=dict(counts),
            sent=sum(1 for t in real if t.state == ActionState.SENT.value),
            actual=side_figures(real, rules, book, last),
            replayed=side_figures(again, rules, book, last)))
    return tuple(out)
