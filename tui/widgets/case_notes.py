"""The case's "Notes & promises" tab: promises, payment plans with their instalments,
and notes (an undone note stays, marked)."""

from __future__ import annotations

import datetime as dt

from rich.markup import escape

from relance.kernel.display import show_amount, show_date, show_money
from relance.kernel.i18n import N_, _
from relance.store.models import PlanStatus, PromiseStatus
from relance.tui.casefile import Case, PlanView

PROMISE_STATES: dict[str, str] = {
    PromiseStatus.OPEN: N_("awaited"), PromiseStatus.KEPT: N_("kept"),
    PromiseStatus.BROKEN: N_("not kept"), PromiseStatus.CANCELLED: N_("withdrawn"),
}
PLAN_ENDS: dict[str, str] = {
    PlanStatus.COMPLETED: N_("completed on {day}"), PlanStatus.BROKEN: N_("broken on {day}"),
    PlanStatus.CANCELLED: N_("ended on {day}"),
}


def _plan_lines(plan: PlanView, today: dt.date) -> list[str]:
    code = plan.currency
    if plan.in_force:
        status = "[b]" + escape(_("in force")) + "[/b]"
    else:
        status = _(PLAN_ENDS.get(plan.status, plan.status.value)).format(
            day=show_date(plan.ended_on))
    paid = _("{paid}/{count} instalments paid").format(paid=plan.paid_count,
                                                         count=len(plan.instalments))
    lines = [f"  #{plan.id} {status} · {show_money(plan.total_minor, code)} · {paid}",
             "    " + escape(_("{invoices} · agreed on {day} by {who}").format(
                 invoices=", ".join(plan.invoices), day=show_date(plan.agreed_on),
                 who=plan.recorded_by or "?"))]
    # The figures line up in columns whose heading names the currency.
    amount = _("Amount ({currency})").format(currency=code)
    paid_heading = _("Paid ({currency})").format(currency=code)
    lines.append("    " + escape(f"{_('Due on'):<10} {amount:>14} {paid_heading:>14}"))
    for line in plan.instalments:
        if line.paid_minor >= line.amount_minor:
            mark = escape(_("settled"))
        elif plan.in_force and line.due_on < today:
            mark = "[b]" + escape(_("late")) + "[/b]"
        else:
            mark = ""
        lines.append(f"    {show_date(line.due_on):<10} "
                     f"{show_amount(line.amount_minor, code):>14} "
                     f"{show_amount(line.paid_minor, code):>14} {mark}".rstrip())
    return lines


def notes_text(case: Case, today: dt.date) -> str:
    lines = ["[b]" + escape(_("Promises")) + "[/b]"]
    for promise in case.promises:
        amount = (show_money(promise.amount_minor, promise.currency or "EUR")
                  if promise.amount_minor is not None else _("everything due"))
        state = _(PROMISE_STATES.get(promise.status, promise.status.value))
        lines.append(f"  {show_date(promise.promised_on)} {amount} · {state} · "
                     f"{escape(promise.recorded_by)}")
    if not case.promises:
        lines.append("  " + _("nothing yet"))
    lines.append("[b]" + escape(_("Payment plans")) + "[/b] "
                 + escape(_("(l: new plan · e: end one in force)")))
    for plan in case.plans:
        lines.extend(_plan_lines(plan, today))
    if not case.plans:
        lines.append("  " + _("nothing yet"))
    lines.append("[b]" + escape(_("Notes")) + "[/b]")
    for note in case.notes:
        retracted = (" [i]" + escape(_("(retracted on {day})").format(
            day=show_date(note.retracted_at.date()))) + "[/i]" if note.retracted_at else "")
        lines.append(f"  {show_date(note.created_at.date())} {escape(note.author)}: "
                     f"{escape(note.body)}{retracted}")
    if not case.notes:
        lines.append("  " + _("nothing yet"))
    return "\n".join(lines)
