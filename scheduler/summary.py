"""The managers' morning summary: what is owed, what waits for a person, what went out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.i18n import _
from relance.store.db import Store
from relance.store.models import Action, ActionState, Event, Invoice, InvoiceStatus, Run


@dataclass(frozen=True)
class MorningSummary:
    day: dt.date
    open_by_currency: dict[str, int] = field(default_factory=dict)
    overdue_by_currency: dict[str, int] = field(default_factory=dict)
    open_invoices: int = 0
    disputed_invoices: int = 0
    actions_by_state: dict[str, int] = field(default_factory=dict)
    sent_last_24h: int = 0
    broken_promises_today: int = 0
    run: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "open_by_currency": self.open_by_currency,
            "overdue_by_currency": self.overdue_by_currency,
            "open_invoices": self.open_invoices,
            "disputed_invoices": self.disputed_invoices,
            "actions_by_state": self.actions_by_state,
            "sent_last_24h": self.sent_last_24h,
            "broken_promises_today": self.broken_promises_today,
            "run": self.run,
        }

    def render(self) -> str:
        """Plain text for a terminal or an e-mail body, in the language spoken (the
        workspace's: the summary goes to its credit managers)."""
        lines = [_("relance — morning summary for {day}").format(day=show_date(self.day))]
        if self.run is None:
            lines.append(_("Today's run: not done yet."))
        else:
            lines.append(_("Today's run: {status} (run {id}).").format(
                status=self.run["status"], id=self.run["id"]))
        for currency in sorted(self.open_by_currency):
            owed = show_money(self.open_by_currency[currency], currency)
            late = show_money(self.overdue_by_currency.get(currency, 0), currency)
            lines.append(_("Open balance {owed}, of which overdue {late}.").format(
                owed=owed, late=late))
        lines.append(_("Open invoices: {open}, disputed: {disputed}.").format(
            open=show_count(self.open_invoices), disputed=show_count(self.disputed_invoices)))
        waiting = self.actions_by_state.get(ActionState.PROPOSED.value, 0)
        queued = self.actions_by_state.get(ActionState.APPROVED.value, 0)
        uncertain = self.actions_by_state.get(ActionState.UNCERTAIN.value, 0)
        lines.append(_("Awaiting approval: {waiting}; approved, to send: {queued}; uncertain, "
                       "to confirm: {uncertain}.").format(
            waiting=show_count(waiting), queued=show_count(queued),
            uncertain=show_count(uncertain)))
        lines.append(_("Sent in the last 24 hours: {sent}; promises broken today: {broken}.")
                     .format(sent=show_count(self.sent_last_24h),
                             broken=show_count(self.broken_promises_today)))
        return "\n".join(lines)


def build_summary(store: Store, day: dt.date, *, now: dt.datetime,
                  start_of_day: dt.datetime) -> MorningSummary:
    """The figures of the summary as of `day` (whose local midnight is `start_of_day`),
    read in one transaction."""
    # SQLite compares date-times as stored text, in UTC.
    now, start_of_day = now.astimezone(dt.UTC), start_of_day.astimezone(dt.UTC)
    with store.transaction() as session:
        open_rows = session.execute(
            select(Invoice.currency, func.count(), func.sum(Invoice.balance_minor))
            .where(Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0)
            .group_by(Invoice.currency)
        ).all()
        overdue_rows = session.execute(
            select(Invoice.currency, func.sum(Invoice.balance_minor))
            .where(Invoice.status == InvoiceStatus.OPEN, Invoice.balance_minor > 0,
                   Invoice.due_date < day)
            .group_by(Invoice.currency)
        ).all()
        disputed = session.execute(
            select(func.count()).select_from(Invoice)
            .where(Invoice.status == InvoiceStatus.OPEN, Invoice.dispute_reason.is_not(None))
        ).scalar_one()
        states = session.execute(
            select(Action.state, func.count()).group_by(Action.state)
        ).all()
        sent = session.execute(
            select(func.count()).select_from(Action)
            .where(Action.state == ActionState.SENT,
                   Action.sent_at >= now - dt.timedelta(hours=24))
        ).scalar_one()
        broken = session.execute(
            select(func.count()).select_from(Event)
            .where(Event.kind == "promise.broken", Event.at >= start_of_day)
        ).scalar_one()
        run = session.execute(
            select(Run).where(Run.run_date == day).order_by(Run.id.desc()).limit(1)
        ).scalar_one_or_none()
        return MorningSummary(
            day=day,
            open_by_currency={c: int(total or 0) for c, _n, total in open_rows},
            overdue_by_currency={c: int(total or 0) for c, total in overdue_rows},
            open_invoices=sum(int(n) for _c, n, _t in open_rows),
            disputed_invoices=int(disputed),
            actions_by_state={str(getattr(s, "value", s)): int(n) for s, n in states},
            sent_last_24h=int(sent),
            broken_promises_today=int(broken),
            run=None if run is None else {"id": run.id, "status": run.status,
                                          "summary": run.summary},
        )
