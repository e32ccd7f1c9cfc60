"""What a rule change would do: both rule sets simulated over the same book and days.

Each side is simulated by `engine.simulate` (the real engine, day after day, in a
transaction rolled back at the end: nothing is written), one after the other, from the
same store. Their actions are cut into steps, one per invoice an action is about, and
the steps of each (debtor, invoice) are paired, most alike first:

1. the same thing sent (channel, template, or the stage of an escalation) on the same
   day: unchanged, or sent in another tone or priority;
2. the same thing on another day: earlier or later, by so many days;
3. what the same rule sends, or what is sent on the same day, on another channel,
   template or stage: changed;
4. what is left is new (sent under the new rules only) or gone (under the old only).

The amount of a change is its invoice's balance (nobody pays in a simulation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from relance.engine.facts import DEBTOR, INVOICE
from relance.engine.simulate import SimulatedAction, simulate
from relance.kernel.money import decimal_text
from relance.kernel.settings import PayerSettings
from relance.store.db import Store

LOOKUP_CHUNK = 500


class Shift(StrEnum):
    """How a step differs from one side to the other."""

    NEW = "new"  # sent under the new rules, not under the old
    GONE = "gone"  # sent under the old rules, no longer
    EARLIER = "earlier"
    LATER = "later"
    OTHER = "other"  # another channel, template or escalation stage
    TONE = "tone"  # the same thing on the same day, in another tone or priority


SHIFTS = tuple(Shift)


@dataclass(frozen=True)
class Step:
    """One invoice in one simulated action."""

    on: dt.date
    channel: str
    template: str | None
    target_stage: str | None
    tone: str | None
    priority: str | None
    rules: tuple[str, ...]  # `policy/rule`, as the action's items name them

    @property
    def what(self) -> tuple[str, str | None, str | None]:
        return (self.channel, self.template, self.target_stage)

    @property
    def manner(self) -> tuple[str | None, str | None]:
        return (self.tone, self.priority)

    def to_json(self) -> dict[str, Any]:
        return {"date": self.on.isoformat(), "channel": self.channel,
                "template": self.template, "target_stage": self.target_stage,
                "tone": self.tone, "priority": self.priority, "rules": list(self.rules)}


def policy_and_rule(rules: tuple[str, ...]) -> tuple[str, str]:
    """The policy and rule of a step; an action two rules share names them both."""
    pairs = [label.partition("/")[::2] for label in rules] or [("?", "?")]
    policies = sorted({policy for policy, _rule in pairs})
    return (", ".join(policies), ", ".join(rule for _policy, rule in pairs))


@dataclass(frozen=True)
class StepChange:
    debtor: str
    invoice: str
    shift: Shift
    old: Step | None
    new: Step | None
    currency: str
    amount_minor: int

    @property
    def days(self) -> int | None:
        """How many days later (negative: earlier) the new side sends it."""
        if self.old is None or self.new is None:
            return None
        return (self.new.on - self.old.on).days

    @property
    def policy_rule(self) -> tuple[str, str]:
        """Where a change is counted: the rule that sends it now, else the one that did."""
        step = self.new if self.new is not None else self.old
        assert step is not None
        return policy_and_rule(step.rules)

    def to_json(self) -> dict[str, Any]:
        policy, rule = self.policy_rule
        return {"debtor": self.debtor, "invoice": self.invoice, "change": self.shift.value,
                "days": self.days, "policy": policy, "rule": rule,
                "old": self.old.to_json() if self.old else None,
                "new": self.new.to_json() if self.new else None,
                "currency": self.currency,
                "amount": decimal_text(self.amount_minor, self.currency)}


@dataclass
class RuleTally:
    """The changes counted for one policy and rule, with the balance of their invoices."""

    policy: str
    rule: str
    counts: dict[Shift, int] = field(default_factory=lambda: dict.fromkeys(SHIFTS, 0))
    invoices: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def owed(self) -> dict[str, int]:
        """Per currency, the balance of the invoices concerned (each counted once)."""
        total: dict[str, int] = defaultdict(int)
        for currency, minor in self.invoices.values():
            total[currency] += minor
        return dict(sorted(total.items()))

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "rule": self.rule,
                **{shift.value: count for shift, count in self.counts.items()},
                "owed": [{"currency": currency, "amount": decimal_text(minor, currency)}
                         for currency, minor in self.owed().items()]}


@dataclass(frozen=True)
class BehaviourDiff:
    first: dt.date
    last: dt.date
    changes: tuple[StepChange, ...]
    old_steps: int
    new_steps: int

    @property
    def unchanged(self) -> int:
        """Steps sent alike by both sides."""
        paired = sum(1 for change in self.changes
                     if change.old is not None and change.new is not None)
        gone = sum(1 for change in self.changes if change.shift is Shift.GONE)
        return self.old_steps - paired - gone

    def tallies(self) -> list[RuleTally]:
        """The changes per policy and rule, in the order of their first change."""
        found: dict[tuple[str, str], RuleTally] = {}
        for change in self.changes:
            key = change.policy_rule
            tally = found.setdefault(key, RuleTally(*key))
            tally.counts[change.shift] += 1
            tally.invoices[(change.debtor, change.invoice)] = (change.currency,
                                                               change.amount_minor)
        return sorted(found.values(), key=lambda tally: (tally.policy, tally.rule))

    def to_json(self) -> dict[str, Any]:
        return {"from": self.first.isoformat(), "until": self.last.isoformat(),
                "old_steps": self.old_steps, "new_steps": self.new_steps,
                "unchanged": self.unchanged,
                "summary": [tally.to_json() for tally in self.tallies()],
                "changes": [change.to_json() for change in self.changes]}


Key = tuple[str, str]  # (debtor ref, invoice number)


def steps_of(actions: Iterable[SimulatedAction]) -> dict[Key, list[Step]]:
    found: dict[Key, list[Step]] = defaultdict(list)
    for action in actions:
        for invoice in action.invoices:
            found[(action.debtor, invoice)].append(Step(
                action.on, action.channel, action.template, action.target_stage,
                action.tone, action.priority, action.rules))
    return found


Pairing = list[tuple[Step, Step]]


def _take(old: list[Step], new: list[Step], alike: Callable[[Step, Step], bool]) -> Pairing:
    """Pair each old step with the first new one `alike` it, removing both."""
    pairs: Pairing = []
    for before in sorted(old, key=lambda step: step.on):
        match = next((after for after in sorted(new, key=lambda step: step.on)
                      if alike(before, after)), None)
        if match is not None:
            old.remove(before)
            new.remove(match)
            pairs.append((before, match))
    return pairs


def _pair(old_steps: Sequence[Step], new_steps: Sequence[Step]
          ) -> tuple[Pairing, Pairing, Pairing, list[Step], list[Step]]:
    """(same thing same day, same thing other day, other thing, gone, new)."""
    old, new = list(old_steps), list(new_steps)
    same_day = _take(old, new, lambda a, b: a.what == b.what and a.on == b.on)
    other_day = _take(old, new, lambda a, b: a.what == b.what)
    other = _take(old, new, lambda a, b: a.rules == b.rules)
    other += _take(old, new, lambda a, b: a.on == b.on)
    return same_day, other_day, other, old, new


def compare_steps(old: dict[Key, list[Step]], new: dict[Key, list[Step]],
                  balances: dict[Key, tuple[str, int]]) -> list[StepChange]:
    """The changes from `old` to `new`, by debtor, invoice and day."""
    changes: list[StepChange] = []
    for key in sorted(set(old) | set(new)):
        currency, minor = balances.get(key, ("", 0))

        def change(shift: Shift, before: Step | None, after: Step | None,
                   key: Key = key, currency: str = currency, minor: int = minor) -> None:
            changes.append(StepChange(key[0], key[1], shift, before, after, currency, minor))

        same_day, other_day, other, gone, added = _pair(old.get(key, []), new.get(key, []))
        for before, after in same_day:
            if before.manner != after.manner:
                change(Shift.TONE, before, after)
        for before, after in other_day:
            change(Shift.LATER if after.on > before.on else Shift.EARLIER, before, after)
        for before, after in other:
            change(Shift.OTHER, before, after)
        for before in gone:
            change(Shift.GONE, before, None)
        for after in added:
            change(Shift.NEW, None, after)
    changes.sort(key=lambda c: (c.debtor, c.invoice, _first_day(c)))
    return changes


def _first_day(change: StepChange) -> dt.date:
    days = [step.on for step in (change.old, change.new) if step is not None]
    return min(days)


def invoice_balances(store: Store, keys: Iterable[Key]) -> dict[Key, tuple[str, int]]:
    """The currency and balance of these (debtor, invoice) pairs, read from the store."""
    wanted = set(keys)
    numbers = sorted({number for _debtor, number in wanted})
    found: dict[Key, tuple[str, int]] = {}
    with store.transaction() as session:
        conn = session.connection()
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            chunk = numbers[start : start + LOOKUP_CHUNK]
            for row in conn.execute(
                select(DEBTOR.c.ref, INVOICE.c.number, INVOICE.c.currency,
                       INVOICE.c.balance_minor)
                .join(DEBTOR, DEBTOR.c.id == INVOICE.c.debtor_id)
                .where(INVOICE.c.number.in_(chunk))
            ):
                key = (row.ref, row.number)
                if key in wanted:
                    found[key] = (row.currency, int(row.balance_minor))
    return found


def behaviour_diff(store: Store, old_rules: object, new_rules: object, first: dt.date,
                   last: dt.date, *, actor: str, auto_approve: bool,
                   payer: PayerSettings = PayerSettings(),
                   progress: Callable[[int, int], None] | None = None) -> BehaviourDiff:
    """Simulate `old_rules` then `new_rules` from `first` to `last` (both rolled back)
    and compare what each would send; `progress` hears (days done, days in all)."""
    days = (last - first).days + 1

    def told(offset: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda done, _total: report(offset + done, 2 * days)

    old_actions = simulate(store, old_rules, first, last, actor=actor,
                           auto_approve=auto_approve, progress=told(0), payer=payer)
    new_actions = simulate(store, new_rules, first, last, actor=actor,
                           auto_approve=auto_approve, progress=told(days), payer=payer)
    old, new = steps_of(old_actions), steps_of(new_actions)
    changes = compare_steps(old, new, invoice_balances(store, set(old) | set(new)))
    return BehaviourDiff(first, last, tuple(changes),
                         sum(len(steps) for steps in old.values()),
                         sum(len(steps) for steps in new.values()))
