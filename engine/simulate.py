"""`relance simulate [--from D] --until D`: what the rules would queue, day by day.

The simulation runs the real engine, day after day, inside one database transaction
that is rolled back at the end: it starts from the store's real history and writes
nothing. Nobody pays; promises and pauses end when recorded; every proposed action —
those pending at the start included — is approved, and an approved escalation moves
its invoices to the new stage, as an operator's approval would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relance.engine.facts import ACTION, ACTION_ITEM, DEBTOR, INVOICE
from relance.engine.run import lock_run_date, run_in_session
from relance.engine.run_listing import ListedCommunication, read_communications
from relance.kernel.display import show_date
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.settings import PayerSettings
from relance.store.db import Store
from relance.store.models import ActionState

MAX_DAYS = 3660


@dataclass(frozen=True)
class SimulatedAction:
    on: dt.date
    debtor: str
    channel: str
    template: str | None
    tone: str | None
    priority: str | None
    target_stage: str | None
    state: str
    invoices: tuple[str, ...]
    rules: tuple[str, ...]
    # What its invoices owe, per currency (minor units): nobody pays in a simulation.
    owed: tuple[tuple[str, int], ...] = ()
    # The same action with its creditor, key and items, each naming its rule
    # (`engine.run_listing`): what `simulate --json` and `--format csv` print.
    communication: ListedCommunication | None = field(default=None, compare=False,
                                                      repr=False)

    def line(self) -> str:
        """One line per action, the format rule tests compare (see docs/engine.md): the
    rules' words and ISO dates in every language, since `expect` lines are written so."""
        return action_line(self.on, self.debtor, self.channel, self.template, self.tone,
                           self.priority, self.target_stage, self.state, self.invoices)

    def to_json(self) -> dict[str, Any]:
        return {"date": self.on.isoformat(), "debtor": self.debtor, "channel": self.channel,
                "template": self.template, "tone": self.tone, "priority": self.priority,
                "target_stage": self.target_stage, "state": self.state,
                "invoices": list(self.invoices), "rules": list(self.rules)}


def action_line(on: dt.date, debtor: str, channel: str, template: str | None,
                tone: str | None, priority: str | None, stage: str | None, state: str,
                invoices: tuple[str, ...]) -> str:
    what = [channel]
    if channel == "call":
        what.append(f"priority {priority or 'normal'}")
    elif channel == "escalate":
        what.append(f"to {stage}")
    elif template:
        what.append(template)
    if tone:
        what.append(f"tone {tone}")
    return f"{on.isoformat()} {debtor} {' '.join(what)}, {state}: {' '.join(invoices)}"


def queued_actions(session: Session, action_ids: list[int] | tuple[int, ...]
                   ) -> list[SimulatedAction]:
    """The actions with these ids, as simulate and rule tests show them."""
    if not action_ids:
        return []
    conn = session.connection()
    out = []
    for start in range(0, len(action_ids), 500):
        chunk = list(action_ids[start : start + 500])
        invoices: dict[int, set[str]] = {}
        rules: dict[int, set[str]] = {}
        owed: dict[int, dict[str, dict[str, int]]] = {}
        listed = {found.action_id: found
                  for found in read_communications(conn, ACTION.c.id.in_(chunk))}
        for row in conn.execute(
            select(ACTION_ITEM.c.action_id, ACTION_ITEM.c.policy, ACTION_ITEM.c.rule,
                   INVOICE.c.number, INVOICE.c.balance_minor, INVOICE.c.currency)
            .join(INVOICE, INVOICE.c.id == ACTION_ITEM.c.invoice_id)
            .where(ACTION_ITEM.c.action_id.in_(chunk))
        ):
            invoices.setdefault(row.action_id, set()).add(row.number)
            rules.setdefault(row.action_id, set()).add(f"{row.policy}/{row.rule}")
            owed.setdefault(row.action_id, {}).setdefault(row.currency, {})[row.number] = (
                row.balance_minor)
        for row in conn.execute(
            select(ACTION, DEBTOR.c.ref)
            .join(DEBTOR, DEBTOR.c.id == ACTION.c.debtor_id)
            .where(ACTION.c.id.in_(chunk))
            .order_by(ACTION.c.id)
        ):
            out.append(SimulatedAction(
                on=row.created_on, debtor=row.ref, channel=str(row.channel),
                template=row.template, tone=row.tone, priority=row.priority,
                target_stage=str(row.target_stage) if row.target_stage else None,
                state=str(row.state), invoices=tuple(sorted(invoices.get(row.id, ()))),
                rules=tuple(sorted(rules.get(row.id, ()))),
                owed=tuple(sorted((currency, sum(by_number.values())) for currency, by_number
                                  in owed.get(row.id, {}).items())),
                communication=listed.get(row.id),
            ))
    return out


def approve_everything(session: Session) -> None:
    """What the simulation assumes operators do: approve every proposed action; an
    approved escalation sets its invoices' stage."""
    conn = session.connection()
    escalations = conn.execute(
        select(ACTION.c.id, ACTION.c.target_stage)
        .where(ACTION.c.state == ActionState.PROPOSED.value, ACTION.c.channel == "escalate")
    ).all()
    for action_id, stage in escalations:
        invoice_ids = select(ACTION_ITEM.c.invoice_id).where(
            ACTION_ITEM.c.action_id == action_id, ACTION_ITEM.c.state == "active")
        conn.execute(update(INVOICE).where(INVOICE.c.id.in_(invoice_ids))
                     .values(stage=str(stage)))
    conn.execute(update(ACTION).where(ACTION.c.state == ActionState.PROPOSED.value)
                 .values(state=ActionState.APPROVED.value, approved_by="simulation"))


def simulate(
    store: Store, rules: Any, start: dt.date, until: dt.date, *, actor: str = "simulation",
    auto_approve: bool = True, rules_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    payer: PayerSettings = PayerSettings(),
) -> list[SimulatedAction]:
    """The actions each day from `start` to `until` (inclusive) would queue; `progress`
    is told (days done, days in all) after each day."""
    if until < start:
        raise UsageError(_("--until {until} is before the first day {start}").format(
            until=show_date(until), start=show_date(start)))
    if (until - start).days > MAX_DAYS:
        raise UsageError(_("simulate at most {count} days at once").format(count=MAX_DAYS))
    found: list[SimulatedAction] = []
    with store.sessions() as session:
        session.begin()
        try:
            lock_run_date(session, start)
            approve_everything(session)
            day = start
            while day <= until:
                report = run_in_session(session, rules, day, actor=actor,
                                        auto_approve=auto_approve, rules_dir=rules_dir,
                                        payer=payer)
                found += queued_actions(session, report.action_ids)
                approve_everything(session)
                day += dt.timedelta(days=1)
                if progress is not None:
                    progress((day - start).days, (until - start).days + 1)
        finally:
            session.rollback()
    return found
