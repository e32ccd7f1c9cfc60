"""Calls: today's call tasks by priority, the debtor's numbers and case, and the outcome
recorded in a key or two (promise, dispute, paid already, no answer, wrong number).

The list follows the store (a payment, a pause, a dispute recorded anywhere shows at
the next poll): a paused debtor's calls and calls whose invoices are all paid or
disputed leave it, and amounts are what is owed now. Searched, filtered and sorted by
the database, read a page at a time."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine import casework
from relance.engine.calendar import add_business_days
from relance.engine.casework import CallOutcome
from relance.kernel.display import show_amount, show_count, show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _, ngettext
from relance.tui import worklists
from relance.tui.screens.list_screen import SqlListScreen
from relance.tui.screens.modals import ConfirmScreen, Field
from relance.tui.screens.portfolio import PORTFOLIO_BINDING, PortfolioScreen
from relance.tui.widgets.lazy_table import Column
from relance.tui.widgets.summary import case_summary, summary_text

PRIORITIES = {"high": N_("high"), "normal": N_("normal"), "low": N_("low")}


class CallsScreen(PortfolioScreen, SqlListScreen[worklists.CallRow]):
    NAME = "calls"
    ID_PREFIX = "calls"
    DETAIL_LINES = 6
    EMPTY = N_("No call to make today.")
    COLUMNS: ClassVar[list[Column]] = [
        Column(N_("Pri."), 6, sort="rank"),
        Column(N_("Debtor"), 16, sort="name", grow=3),
        Column(N_("Phone"), 14, sort="phone", grow=1),
        Column(N_("Amount"), 14, "right", sort="amount"),
        Column(N_("Tries"), 5, "right", sort="attempts"),
    ]
    FILTERS = ("creditor", "segment", "priority")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "promise", N_("Promise")),
        Binding("d", "dispute", N_("Dispute")),
        Binding("P", "paid_already", N_("Paid")),
        Binding("n", "no_answer", N_("No answer")),
        Binding("w", "wrong_number", N_("Wrong nº")),
        Binding("enter,c", "case", N_("Case"), show=False),
        PORTFOLIO_BINDING,
    ]

    def sql_list(self) -> worklists.CallList:
        return worklists.CallList(self.ctx.today, creditor_ids=self.ctx.creditor_ids,
                                  collector=self.collector())

    def prepare(self, session: Session) -> None:
        self._list = None  # the portfolio may have changed: the list's query is read again
        super().prepare(session)

    def bar_text(self) -> str:
        line = self.portfolio_text()
        return f"{line} · {super().bar_text()}" if line else super().bar_text()

    def row_key(self, row: worklists.CallRow) -> Hashable:
        return row.action_id

    def shown_text(self, shown: int, total: int) -> str:
        return ngettext("{shown} call shown of {total}", "{shown} calls shown of {total}",
                        shown).format(shown=shown, total=total)

    def cells(self, row: worklists.CallRow) -> list[str]:
        return [_(PRIORITIES.get(row.priority, row.priority)), row.debtor_name, row.phone,
                show_money(row.amount_minor, row.currency), show_count(row.attempts)]

    def debtor_of(self, row: worklists.CallRow) -> int | None:
        return row.debtor_id

    def detail(self, row: worklists.CallRow) -> str:
        with self.ctx.reading() as session:
            summary = case_summary(session, row.debtor_id)
        return summary_text(summary, self.ctx.today) + "\n" + ngettext(
            "Call #{id} queued {day}, {count} attempt so far",
            "Call #{id} queued {day}, {count} attempts so far", row.attempts).format(
            id=row.action_id, day=show_date(row.created_on), count=row.attempts)

    # ------------------------------------------------------------------ outcomes

    def _record(self, row: worklists.CallRow, outcome: CallOutcome, done: str,
                **details: object) -> None:
        ctx = self.ctx

        def change(session: Session) -> None:
            casework.record_call_outcome(session, ctx.actor, row.seen, outcome,
                                         today=ctx.today, now=ctx.now, **details)  # type: ignore[arg-type]

        self.perform(change, done=_("{debtor}: {done}").format(debtor=row.debtor_name,
                                                                 done=done))

    def _as_now(self, row: worklists.CallRow) -> worklists.CallRow | None:
        """The call as the store has it now (a payment may have come since the list was
        read), or None, with a message, when it left the list."""
        with self.ctx.reading() as session:
            now = worklists.call_list(session, self.ctx.today, only=row.action_id)
        if not now:
            self.notify(_("{debtor}: this call is no longer on today's list (paid, paused, "
                          "disputed or done meanwhile)").format(debtor=row.debtor_name),
                        severity="warning")
            self.reload()
            return None
        return now[0]

    def action_promise(self) -> None:
        seen = self.current
        if seen is None or not self.may_write():
            return
        # The amount proposed is what is owed now, not what the list showed.
        row = self._as_now(seen)
        if row is None:
            return
        currency = row.currency or "EUR"

        def parse(answers: dict[str, str]) -> dict[str, object]:
            if not answers["date"]:
                raise UsageError(_("A promise needs a date."))
            day = casework.parse_day(answers["date"])
            if day < self.ctx.today:
                raise UsageError(_("The promised date is already past."))
            amount = (casework.parse_money(answers["amount"], currency)
                      if answers["amount"] else None)
            return {"promised_on": day, "amount": amount,
                    "note": answers["note"] or None}

        self.ask(_("Promise to pay — {debtor}").format(debtor=row.debtor_name), [
            Field("date", _("Pays by (date, e.g. {example})").format(
                example=show_date(self.ctx.today))),
            Field("amount", _("Amount in {currency} (empty: everything due)").format(
                currency=currency),
                  show_amount(row.amount_minor, currency, "en").replace(",", "")),
            Field("note", _("Note (optional)")),
        ], parse, lambda d: self._record(row, CallOutcome.PROMISE, _("promise recorded"), **d))

    def action_dispute(self) -> None:
        row = self.current
        if row is None:
            return

        def parse(answers: dict[str, str]) -> dict[str, object]:
            if not answers["reason"]:
                raise UsageError(_("A dispute needs a reason."))
            return {"reason": answers["reason"]}

        self.ask(_("Dispute — {debtor}").format(debtor=row.debtor_name),
                 [Field("reason", _("What is disputed"))], parse,
                 lambda d: self._record(row, CallOutcome.DISPUTE, _("dispute opened"), **d))

    def action_paid_already(self) -> None:
        row = self.current
        if row is None:
            return

        def parse(answers: dict[str, str]) -> dict[str, object]:
            return {"note": answers["note"] or None}

        self.ask(_("Says it paid already — {debtor}").format(debtor=row.debtor_name),
                 [Field("note", _("How and when (optional)"))], parse,
                 lambda d: self._record(row, CallOutcome.PAID_ALREADY,
                                        _("paid already, paused a week to check"), **d))

    def action_no_answer(self) -> None:
        row = self.current
        if row is None:
            return
        retry = add_business_days(self.ctx.today, 1, row.country)

        def parse(answers: dict[str, str]) -> dict[str, object]:
            day = casework.parse_day(answers["retry"] or "", what=_("retry date"))
            if day <= self.ctx.today:
                raise UsageError(_("The retry date must be after today."))
            return {"retry_on": day}

        self.ask(_("No answer — {debtor}").format(debtor=row.debtor_name),
                 [Field("retry", _("Call again on"), show_date(retry))], parse,
                 lambda d: self._record(row, CallOutcome.NO_ANSWER, _("call again later"),
                                        **d))

    def action_wrong_number(self) -> None:
        row = self.current
        if row is None or not self.may_write():
            return

        def then(yes: bool | None) -> None:
            if yes:
                self._record(row, CallOutcome.WRONG_NUMBER, _("number removed"))

        self.app.push_screen(ConfirmScreen(
            _("{phone} is a wrong number for {debtor}? It will be removed.").format(
                phone=row.phone, debtor=row.debtor_name)), then)
