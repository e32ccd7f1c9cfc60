"""What a run queued, for programs: one communication per action, with its items.

`relance run --json` prints the run's counts (`RunReport.to_json`) and, from here, every
communication it queued or extended — read back from the database by the run's id — and
the same content flattened to one action per (invoice, rule). `simulate --json` lists its
communications in the same shape (`engine.simulate.queued_actions`). The document is
described by `docs/schema/run.schema.json` and `docs/json-output.md`.

A dry run writes its actions in a transaction that is rolled back (`engine.run.run_day`):
the run lists them inside that transaction (`listing_into`, the run's `inspect`), before
the rollback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from relance.engine.facts import ACTION, ACTION_ITEM, CREDITOR, DEBTOR, INVOICE
from relance.kernel.money import decimal_text
from relance.store.models import ItemState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from relance.engine.run import Inspect, RunReport

# Ids per `IN (...)`: well under SQLite's limit on bound parameters.
CHUNK = 1000


@dataclass(frozen=True)
class ListedItem:
    """One invoice in a communication, put there by one rule (one step of it)."""

    invoice: str
    policy: str
    rule: str
    rule_file: str
    rule_line: int
    step: int
    # The invoice's balance when the rule acted, in minor units.
    balance_minor: int
    currency: str

    def to_json(self) -> dict[str, Any]:
        return {"invoice": self.invoice, "policy": self.policy, "rule": self.rule,
                "rule_file": self.rule_file, "rule_line": self.rule_line, "step": self.step,
                "balance_minor": self.balance_minor,
                "balance": decimal_text(self.balance_minor, self.currency),
                "currency": self.currency}


@dataclass(frozen=True)
class ListedCommunication:
    """One queued action (a letter, an e-mail, a call task, an escalation...)."""

    action_id: int
    key: str  # the action's idempotency key: the same for the same content on the same day
    on: dt.date
    creditor: str
    debtor: str
    channel: str
    template: str | None
    tone: str | None
    priority: str | None
    notify_role: str | None
    target_stage: str | None
    state: str
    needs_approval: bool
    # Queued by an earlier run the same day; this run added invoices to it.
    extended: bool
    items: tuple[ListedItem, ...]

    def to_json(self, *, kept: bool = True) -> dict[str, Any]:
        """`kept`: the action is in the database; a rolled-back one (dry run,
        simulation) has no id, only its key."""
        return {"id": self.action_id if kept else None, "key": self.key,
                "date": self.on.isoformat(), "creditor": self.creditor,
                "debtor": self.debtor, "channel": self.channel, "template": self.template,
                "tone": self.tone, "priority": self.priority,
                "notify_role": self.notify_role, "target_stage": self.target_stage,
                "state": self.state, "needs_approval": self.needs_approval,
                "extended": self.extended, "items": [item.to_json() for item in self.items]}

    def actions_json(self, *, kept: bool = True) -> list[dict[str, Any]]:
        """The communication flattened: one action per item, each naming its
        communication (by id when kept, always by key)."""
        return [{"date": self.on.isoformat(), "policy": item.policy, "rule": item.rule,
                 "creditor": self.creditor, "debtor": self.debtor, "invoice": item.invoice,
                 "channel": self.channel, "template": self.template, "tone": self.tone,
                 "target_stage": self.target_stage, "needs_approval": self.needs_approval,
                 "communication_id": self.action_id if kept else None,
                 "communication_key": self.key}
                for item in self.items]


def read_communications(conn: Connection, where: ColumnElement[bool],
                        run_id: int | None = None) -> list[ListedCommunication]:
    """The actions matching `where` (a condition on the action table) with their active
    items, in the order they were queued; two queries whatever their number.

    `run_id`: the run listing them; an action it did not create was extended by it."""
    items: dict[int, list[ListedItem]] = {}
    for row in conn.execute(
        select(ACTION_ITEM.c.action_id, INVOICE.c.number, ACTION_ITEM.c.policy,
               ACTION_ITEM.c.rule, ACTION_ITEM.c.rule_file, ACTION_ITEM.c.rule_line,
               ACTION_ITEM.c.step, ACTION_ITEM.c.balance_minor, ACTION_ITEM.c.currency)
        .select_from(ACTION_ITEM.join(ACTION, ACTION.c.id == ACTION_ITEM.c.action_id)
                     .join(INVOICE, INVOICE.c.id == ACTION_ITEM.c.invoice_id))
        .where(where, ACTION_ITEM.c.state == ItemState.ACTIVE.value)
        .order_by(ACTION_ITEM.c.action_id, ACTION_ITEM.c.id)
    ):
        items.setdefault(row.action_id, []).append(ListedItem(
            invoice=row.number, policy=row.policy, rule=row.rule, rule_file=row.rule_file,
            rule_line=row.rule_line, step=row.step, balance_minor=row.balance_minor,
            currency=str(row.currency)))
    return [
        ListedCommunication(
            action_id=row.id, key=row.idempotency_key, on=row.created_on,
            creditor=row.code, debtor=row.ref, channel=str(row.channel),
            template=row.template, tone=row.tone, priority=row.priority,
            notify_role=row.notify_role,
            target_stage=str(row.target_stage) if row.target_stage else None,
            state=str(row.state), needs_approval=bool(row.requires_approval),
            extended=run_id is not None and row.run_id != run_id,
            items=tuple(items.get(row.id, ())))
        for row in conn.execute(
            select(ACTION.c.id, ACTION.c.idempotency_key, ACTION.c.created_on,
                   CREDITOR.c.code, DEBTOR.c.ref, ACTION.c.channel, ACTION.c.template,
                   ACTION.c.tone, ACTION.c.priority, ACTION.c.notify_role,
                   ACTION.c.target_stage, ACTION.c.state, ACTION.c.requires_approval,
                   ACTION.c.run_id)
            .select_from(ACTION.join(DEBTOR, DEBTOR.c.id == ACTION.c.debtor_id)
                         .join(CREDITOR, CREDITOR.c.id == ACTION.c.creditor_id))
            .where(where)
            .order_by(ACTION.c.id)
        )
    ]


def communications_by_id(conn: Connection, action_ids: Iterable[int]
                         ) -> list[ListedCommunication]:
    """The actions with these ids, in id order, a chunk of ids per pair of queries."""
    ordered = sorted(set(action_ids))
    found: list[ListedCommunication] = []
    for start in range(0, len(ordered), CHUNK):
        found += read_communications(conn, ACTION.c.id.in_(ordered[start : start + CHUNK]))
    return found


def run_communications(conn: Connection, report: RunReport, run_id: int
                       ) -> list[ListedCommunication]:
    """What run `run_id` queued, read back by its id, and the earlier actions of the day
    it extended (few: only a book changed between two runs of a day adds to them)."""
    created = read_communications(conn, ACTION.c.run_id == run_id, run_id)
    extended_ids = set(report.action_ids) - {listed.action_id for listed in created}
    extended = [replace(listed, extended=True)
                for listed in communications_by_id(conn, extended_ids)]
    return sorted([*created, *extended], key=lambda listed: listed.action_id)


def listing_into(found: list[ListedCommunication]) -> Inspect:
    """A run's `inspect` (`engine.run.Inspect`) that lists into `found` what the run
    queued; read inside the run's transaction, it lists a dry run's actions too."""
    def inspect(session: Session, run_id: int, report: RunReport) -> None:
        found.extend(run_communications(session.connection(), report, run_id))
    return inspect


def run_document(report: RunReport, communications: Sequence[ListedCommunication]
                 ) -> dict[str, Any]:
    """`relance run --json`: the counts as before, every communication with its items,
    and the same items as a flat list of actions."""
    # A dry run keeps nothing it creates; an action it would extend is in the book.
    kept = {listed.action_id: not report.dry_run or listed.extended
            for listed in communications}
    return {**report.to_json(),
            "communications": [listed.to_json(kept=kept[listed.action_id])
                               for listed in communications],
            "actions": [action for listed in communications
                        for action in listed.actions_json(kept=kept[listed.action_id])]}
