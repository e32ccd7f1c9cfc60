"""The case's "Notes & promises" tab: promises, payment plans with their instalments,
and notes (an undone note stays, marked)."""

from __future__ import annotations

import datetime as dt

from rich.markup import escape

from relance.tui import format
from relance.tui.casefile import Case, PlanView


def _plan_lines(plan: PlanView, today: dt.date) -> list[str]:
    code = plan.currency
    status = ("[b]in force[/b]" if plan.in_force
              else f"{plan.status.value} {format.day(plan.ended_on)}")
    lines = [f"  #{plan.id} {status} · {format.money(plan.total_minor, code)} · "
             f"{plan.paid_count}/{len(plan.instalments)} instalments paid",
             f"    {escape(', '.join(plan.invoices))} · agreed {format.day(plan.agreed_on)} "
             f"by {escape(plan.recorded_by or '?')}"]
    for line in plan.instalments:
        if line.paid_minor >= line.amount_minor:
            mark = "paid"
        elif plan.in_force and line.due_on < today:
            mark = "[b]late[/b]"
        else:
            mark = ""
        lines.append(f"    {format.day(line.due_on)} {format.amount(line.amount_minor, code):>10}"
                     f" · paid {format.amount(line.paid_minor, code):>10} {mark}".rstrip())
    return lines


def notes_text(case: Case, today: dt.date) -> str:
    lines = ["[b]Promises[/b]"]
    for promise in case.promises:
        amount = (format.money(promise.amount_minor, promise.currency or "EUR")
                  if promise.amount_minor is not None else "everything due")
        lines.append(f"  {format.day(promise.promised_on)} {amount} · "
                     f"{promise.status.value} · {escape(promise.recorded_by)}")
    if not case.promises:
        lines.append("  none")
    lines.append("[b]Payment plans[/b] (l: new plan · e: end one in force)")
    for plan in case.plans:
        lines.extend(_plan_lines(plan, today))
    if not case.plans:
        lines.append("  none")
    lines.append("[b]Notes[/b]")
    for note in case.notes:
        retracted = f" [i](retracted {note.retracted_at:%d/%m/%y})[/i]" if note.retracted_at else ""
        lines.append(f"  {note.created_at:%d/%m/%y} {escape(note.author)}: "
                     f"{escape(note.body)}{retracted}")
    if not case.notes:
        lines.append("  none")
    return "\n".join(lines)
