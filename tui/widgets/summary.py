"""The case summary panel shown beside escalations and calls."""

from __future__ import annotations

import datetime as dt

from rich.markup import escape

from relance.tui import format
from relance.tui.worklists import CaseSummary


def summary_text(summary: CaseSummary, today: dt.date) -> str:
    debtor = summary.debtor
    balances = ", ".join(format.money(v, c) for c, v in sorted(summary.balances.items()))
    promises = summary.promises
    lines = [
        f"[b]{escape(debtor.name)}[/b] {escape(debtor.ref)} · {summary.creditor_code} · "
        f"{debtor.segment}",
        f"Balance {balances or '0'} on {summary.open_invoices} invoice(s), oldest due "
        f"{format.day(summary.oldest_due)} ({summary.age_days(today)} days)",
        f"Reminders sent {summary.reminders_sent}, last {format.day(summary.last_reminder)}"
        f" · promises kept {promises.get('kept', 0)}, broken {promises.get('broken', 0)}, "
        f"open {promises.get('open', 0)} · disputes {summary.disputes}",
    ]
    contact = f"☎ {debtor.phone or '—'} · ✉ {debtor.email or '—'}"
    if debtor.paused_until and debtor.paused_until >= today:
        contact += f" · [b]paused until {format.day(debtor.paused_until)}[/b]"
    lines.append(contact)
    return "\n".join(lines)
