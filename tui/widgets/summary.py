"""The case summary shown beside escalations and calls: what a credit manager weighs
before escalating or calling, read for the row under the cursor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rich.markup import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.kernel.display import show_date, show_money
from relance.kernel.i18n import _, ngettext
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Promise,
    PromiseStatus,
)


@dataclass
class CaseSummary:
    """What a credit manager weighs before escalating or calling."""

    debtor: Debtor
    creditor_code: str
    balances: dict[str, int] = field(default_factory=dict)
    open_invoices: int = 0
    oldest_due: dt.date | None = None
    reminders_sent: int = 0
    last_reminder: dt.date | None = None
    promises: dict[str, int] = field(default_factory=dict)
    disputes: int = 0

    def age_days(self, today: dt.date) -> int:
        return (today - self.oldest_due).days if self.oldest_due else 0


def case_summary(session: Session, debtor_id: int) -> CaseSummary:
    debtor = session.get(Debtor, debtor_id)
    assert debtor is not None
    creditor = session.get(Creditor, debtor.creditor_id)
    summary = CaseSummary(debtor, creditor.code if creditor else "")
    for currency, total, count, oldest in session.execute(
        select(Invoice.currency, func.sum(Invoice.balance_minor), func.count(Invoice.id),
               func.min(Invoice.due_date))
        .where(Invoice.debtor_id == debtor_id, Invoice.balance_minor > 0,
               Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.currency)
    ):
        summary.balances[currency] = int(total)
        summary.open_invoices += int(count)
        if summary.oldest_due is None or oldest < summary.oldest_due:
            summary.oldest_due = oldest
    sent, last = session.execute(
        select(func.count(Action.id), func.max(Action.created_on))
        .where(Action.debtor_id == debtor_id,
               Action.channel.in_([Channel.LETTER, Channel.EMAIL, Channel.SMS, Channel.CALL]),
               Action.state == ActionState.SENT)
    ).one()
    summary.reminders_sent, summary.last_reminder = int(sent), last
    for status, count in session.execute(
        select(Promise.status, func.count(Promise.id))
        .where(Promise.debtor_id == debtor_id).group_by(Promise.status)
    ):
        summary.promises[PromiseStatus(status).value] = int(count)
    summary.disputes = int(session.scalar(
        select(func.count(Invoice.id)).where(Invoice.debtor_id == debtor_id,
                                             Invoice.dispute_reason.is_not(None))) or 0)
    return summary


def summary_text(summary: CaseSummary, today: dt.date) -> str:
    debtor = summary.debtor
    balances = ", ".join(show_money(v, c) for c, v in sorted(summary.balances.items()))
    promises = summary.promises
    invoices = ngettext("{count} invoice", "{count} invoices", summary.open_invoices).format(
        count=summary.open_invoices)
    lines = [
        f"[b]{escape(debtor.name)}[/b] {escape(debtor.ref)} · {summary.creditor_code} · "
        f"{escape(debtor.segment)}",
        _("Balance {balance} on {invoices}, oldest due {day} ({days} days)").format(
            balance=balances or "0", invoices=invoices,
            day=show_date(summary.oldest_due) or "—", days=summary.age_days(today)),
        _("Reminders sent {sent}, last {day} · promises kept {kept}, broken {broken}, "
          "open {open} · disputes {disputes}").format(
            sent=summary.reminders_sent, day=show_date(summary.last_reminder) or "—",
            kept=promises.get("kept", 0), broken=promises.get("broken", 0),
            open=promises.get("open", 0), disputes=summary.disputes),
    ]
    contact = f"☎ {escape(debtor.phone or '—')} · ✉ {escape(debtor.email or '—')}"
    if debtor.paused_until and debtor.paused_until >= today:
        contact += " · [b]" + _("paused until {day}").format(
            day=show_date(debtor.paused_until)) + "[/b]"
    lines.append(contact)
    return "\n".join(lines)
