"""The case screen's groundwork and its money changes: recording a payment, agreeing or
ending a payment plan, and undoing a change from the history. `CaseScreen` (case.py)
adds the layout and the other changes; the split only keeps each module readable."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from sqlalchemy.orm import Session
from textual.widgets import DataTable

from relance.engine import casework, plans, undo
from relance.kernel.display import show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _, ngettext
from relance.store.book import unallocated_minor
from relance.store.models import Invoice, InvoiceStatus, Payment
from relance.tui import casefile, entry
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field
from relance.tui.widgets.cursor import highlighted_key


def payment_message(payment: Payment, numbers: dict[int, str]) -> str:
    """What the operator is told: where the money went, and what stays on account."""
    code = payment.currency
    went = ", ".join(f"{numbers.get(a.invoice_id, '?')} {show_money(a.amount_minor, code)}"
                     for a in payment.allocations)
    amount = show_money(payment.amount_minor, code)
    left = unallocated_minor(payment)
    if went and left:
        return _("Payment of {amount} recorded: {invoices}; {left} on account").format(
            amount=amount, invoices=went, left=show_money(left, code))
    if went:
        return _("Payment of {amount} recorded: {invoices}").format(amount=amount,
                                                                   invoices=went)
    if left:
        return _("Payment of {amount} recorded; {left} on account").format(
            amount=amount, left=show_money(left, code))
    return _("Payment of {amount} recorded").format(amount=amount)


class CaseWorkScreen(DeskScreen):
    """One debtor's case: the invoices chosen, forms that change it, money changes."""

    def __init__(self) -> None:
        super().__init__()
        self.case: casefile.Case | None = None
        self.selected: set[int] = set()

    @property
    def invoices_table(self) -> DataTable[str | Text]:
        return self.query_one("#case-invoices", DataTable)

    @property
    def history_table(self) -> DataTable[str | Text]:
        return self.query_one("#case-history", DataTable)

    # ------------------------------------------------------------------ choosing invoices

    def _current_invoice(self) -> Invoice | None:
        case = self.case
        key = highlighted_key(self.invoices_table)
        if case is None or key is None:
            return None
        return next((i for i in case.invoices if str(i.id) == key), None)

    def _chosen(self) -> list[Invoice]:
        case = self.case
        if case is None:
            return []
        if self.selected:
            return [i for i in case.invoices if i.id in self.selected]
        current = self._current_invoice()
        return [current] if current else []

    def _form(self, title: str, fields: list[Field],
              act: Callable[[dict[str, str], Session | None], str | None]) -> None:
        """Ask; check the answers with `act(answers, None)` (reading them only), then
        apply them with `act(answers, session)` in one transaction. What `act` returns
        is the message shown when it is done (else the title)."""
        def parse(answers: dict[str, str]) -> dict[str, str]:
            act(answers, None)
            return answers

        def apply(answers: dict[str, str]) -> None:
            said = self.perform(lambda session: act(answers, session) or title)
            if said:
                self.notify(said)

        self.ask(title, fields, parse, apply)

    # ------------------------------------------------------------------ payments

    def action_payment(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        chosen = [i for i in self._chosen() if i.balance_minor > 0] if self.selected else []
        pool = chosen or [i for i in case.invoices if i.balance_minor > 0] or case.invoices
        default_code = pool[0].currency if pool else "EUR"
        numbers = {i.id: i.number for i in case.invoices}

        def act(answers: dict[str, str], session: Session | None) -> str | None:
            # No amount is proposed: Enter through the form must not record money that
            # never came.
            if not answers["amount"]:
                raise UsageError(_("Enter the amount received."))
            named = entry.named_invoices(answers["invoices"], case.invoices)
            code = named[0][0].currency if named else default_code
            amount = casework.parse_money(answers["amount"], code)
            on = casework.parse_day(answers["date"]) if answers["date"] else ctx.today
            shares = entry.amounts(named, code)
            if session is None:
                return None
            if named and shares is None:
                # The invoices in the order given, each up to its balance; any surplus
                # on the debtor's account (as `relance pay`).
                payment = casework.pay_invoices(
                    session, ctx.actor, [invoice.id for invoice, _ in named], amount=amount,
                    received_on=on, reference=answers["reference"], today=ctx.today)
            else:
                payment = casework.record_payment(
                    session, ctx.actor, creditor_id=case.debtor.creditor_id,
                    debtor_id=case.debtor.id, amount=amount, received_on=on,
                    reference=answers["reference"], allocations=shares, today=ctx.today)
            return payment_message(payment, numbers)

        self._form(_("Payment from {name}").format(name=case.debtor.name), [
            Field("amount", _("Amount received ({currency})").format(currency=default_code)),
            Field("date", _("Received on"), show_date(ctx.today)),
            Field("reference", _("Reference (bank, cheque)")),
            Field("invoices", _("Invoices to pay, in order (empty: the oldest due first)"),
                  ", ".join(i.number for i in chosen),
                  _("FA-1, FA-2 — or FA-1:500, FA-2:80")),
        ], act)

    # ------------------------------------------------------------------ payment plans

    def action_plan(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        owing = [i for i in case.invoices
                 if i.balance_minor > 0 and i.status == InvoiceStatus.OPEN]
        chosen = [i for i in self._chosen() if i in owing] if self.selected else owing
        if not chosen:
            self.notify(_("No open invoice to put in a plan among those selected")
                        if self.selected else _("No open invoice to put in a plan"),
                        severity="warning")
            return

        def act(answers: dict[str, str], session: Session | None) -> str | None:
            named = entry.named_invoices(answers["invoices"], case.invoices)
            if not named:
                raise UsageError(_("Name the invoices the plan covers."))
            if any(amount for _, amount in named):
                raise UsageError(_("A plan covers whole invoices: name them without amounts."))
            code = named[0][0].currency
            if answers["schedule"]:
                schedule = entry.schedule(answers["schedule"], code)
                count, first, every = None, None, None
            else:
                schedule = None
                count = entry.count(answers["count"], _("Number of instalments"))
                if not answers["first"]:
                    raise UsageError(_("Give the first instalment’s date (or the "
                                       "instalments one by one)."))
                first = casework.parse_day(answers["first"], what=_("first instalment"))
                every = entry.every(answers["every"])
            if session is None:
                return None
            plan = plans.create_plan(session, ctx.actor, [i.id for i, _ in named],
                                     today=ctx.today, schedule=schedule, count=count,
                                     first=first, every=every)
            total = plans.plan_total(plan)
            count = len(plan.instalments)
            return ngettext(
                "Payment plan #{plan} agreed: {count} instalment from {day}, {total} in all",
                "Payment plan #{plan} agreed: {count} instalments from {day}, {total} in all",
                count).format(plan=plan.id, count=count,
                              day=show_date(plan.instalments[0].due_on),
                              total=show_money(total.minor, total.currency))

        self._form(_("Payment plan for {name}").format(name=case.debtor.name), [
            Field("invoices", _("Invoices (e.g. FA-1, FA-2)"),
                  ", ".join(i.number for i in chosen)),
            Field("count", _("Number of instalments")),
            Field("first", _("First instalment on (date)")),
            Field("every", _("Every (1m, 2w, 15d)"), "1m"),
            Field("schedule", _("Or the instalments one by one, instead of the above"),
                  placeholder="30/11/2026:500, 31/12/2026:750"),  # not for people: an example
        ], act)

    def action_end_plan(self) -> None:
        case = self.case
        if case is None:
            return
        ctx = self.ctx
        in_force = [plan for plan in case.plans if plan.in_force]
        if not in_force:
            self.notify(_("No payment plan in force for {name}").format(name=case.debtor.name),
                        severity="warning")
            return
        choices = ", ".join(f"#{plan.id}" for plan in in_force)

        def act(answers: dict[str, str], session: Session | None) -> str | None:
            wanted = answers["plan"].lstrip("#").strip()
            plan = next((p for p in in_force if str(p.id) == wanted), None)
            if plan is None:
                raise UsageError(_("Plan: one of {plans}.").format(plans=choices))
            if not answers["reason"]:
                raise UsageError(_("Ending a plan needs a reason."))
            if session is None:
                return None
            plans.cancel_plan(session, ctx.actor, plan.id, reason=answers["reason"],
                              today=ctx.today)
            return _("Plan #{plan} ended: its invoices are chased again").format(plan=plan.id)

        self._form(_("End a payment plan of {name}").format(name=case.debtor.name), [
            Field("plan", _("Plan in force ({plans})").format(plans=choices),
                  str(in_force[0].id) if len(in_force) == 1 else ""),
            Field("reason", _("Reason")),
        ], act)

    # ------------------------------------------------------------------ undo

    def action_undo(self) -> None:
        case = self.case
        if case is None:
            return
        key = highlighted_key(self.history_table)
        line = next((h for h in case.history if h.key == key), None)
        if line is None:
            return
        if line.event_id is None:
            self.notify(_("{what}: an action of the rules, not a change to undo "
                          "(the queue can reject what is still waiting)").format(what=line.what),
                        severity="warning")
            return
        if line.undone_by is not None:
            self.notify(_("#{event} was already undone by #{undo}").format(
                event=line.event_id, undo=line.undone_by), severity="warning")
            return
        if not line.undoable:
            self.notify(_("#{event} {what} cannot be undone").format(
                event=line.event_id, what=line.what), severity="warning")
            return
        ctx = self.ctx
        event_id = line.event_id

        def act(answers: dict[str, str], session: Session | None) -> str | None:
            if not answers["reason"]:
                raise UsageError(_("An undo needs a reason."))
            if session is None:
                return None
            undo.undo(session, ctx.actor, event_id, reason=answers["reason"], today=ctx.today)
            return _("#{event} {what} undone").format(event=event_id, what=line.what)

        self._form(_("Undo #{event} {what}? {detail}").format(
            event=event_id, what=line.what, detail=line.detail[:60]),
            [Field("reason", _("Why (kept in the history)"))], act)
