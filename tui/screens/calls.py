"""Calls: today's call tasks by priority, the debtor's numbers and case, and the outcome
recorded in a key or two (promise, dispute, paid already, no answer, wrong number).

The list follows the store (a payment, a pause, a dispute recorded anywhere shows at
the next poll): a paused debtor's calls and calls whose invoices are all paid or
disputed leave it, and amounts are what is owed now."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine import casework
from relance.engine.calendar import add_business_days
from relance.engine.casework import CallOutcome
from relance.kernel.errors import UsageError
from relance.tui import format, worklists
from relance.tui.screens.list_screen import WholeListScreen
from relance.tui.screens.modals import ConfirmScreen, Field
from relance.tui.widgets.summary import summary_text


class CallsScreen(WholeListScreen[worklists.CallRow]):
    NAME = "calls"
    ID_PREFIX = "calls"
    DETAIL_LINES = 7
    EMPTY = "No call to make today."
    COLUMNS = ("Pri.", "Debtor", "Phone", "Amount", "Tries")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "promise", "Promise"),
        Binding("d", "dispute", "Dispute"),
        Binding("P", "paid_already", "Paid"),
        Binding("n", "no_answer", "No answer"),
        Binding("w", "wrong_number", "Wrong nº"),
        Binding("c", "case", "Case", show=False),
    ]

    def read(self, session: Session) -> list[worklists.CallRow]:
        return worklists.call_list(session, self.ctx.today)

    def key(self, row: worklists.CallRow) -> int:
        return row.action_id

    def cells(self, row: worklists.CallRow) -> list[str | Text]:
        return [row.priority, row.debtor_name[:30], row.phone,
                format.right(format.amount(row.amount_minor, row.currency)),
                format.right(str(row.attempts))]

    def debtor_of(self, row: worklists.CallRow) -> int | None:
        return row.debtor_id

    def detail(self, row: worklists.CallRow) -> str:
        with self.ctx.reading() as session:
            summary = worklists.case_summary(session, row.debtor_id)
        return (summary_text(summary, self.ctx.today)
                + f"\nCall #{row.action_id} queued {format.day(row.created_on)}, "
                f"{row.attempts} attempt(s) so far")

    # ------------------------------------------------------------------ outcomes

    def _record(self, row: worklists.CallRow, outcome: CallOutcome, done: str,
                **details: object) -> None:
        ctx = self.ctx

        def change(session: Session) -> None:
            casework.record_call_outcome(session, ctx.actor, row.seen, outcome,
                                         today=ctx.today, now=ctx.now, **details)  # type: ignore[arg-type]

        self.perform(change, done=f"{row.debtor_name}: {done}")

    def _as_now(self, row: worklists.CallRow) -> worklists.CallRow | None:
        """The call as the store has it now (a payment may have come since the list was
        read), or None, with a message, when it left the list."""
        with self.ctx.reading() as session:
            now = worklists.call_list(session, self.ctx.today, only=row.action_id)
        if not now:
            self.notify(f"{row.debtor_name}: this call is no longer on today's list "
                        "(paid, paused, disputed or done meanwhile)", severity="warning")
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
                raise UsageError("A promise needs a date.")
            day = casework.parse_day(answers["date"])
            if day < self.ctx.today:
                raise UsageError("The promised date is already past.")
            amount = (casework.parse_money(answers["amount"], currency)
                      if answers["amount"] else None)
            return {"promised_on": day, "amount": amount,
                    "note": answers["note"] or None}

        self.ask(f"Promise to pay — {row.debtor_name}", [
            Field("date", "Pays by (date, e.g. 30/11/2026)"),
            Field("amount", f"Amount in {currency} (empty: everything due)",
                  format.amount(row.amount_minor, currency).replace(" ", "")),
            Field("note", "Note (optional)"),
        ], parse, lambda d: self._record(row, CallOutcome.PROMISE, "promise recorded", **d))

    def action_dispute(self) -> None:
        row = self.current
        if row is None:
            return

        def parse(answers: dict[str, str]) -> dict[str, object]:
            if not answers["reason"]:
                raise UsageError("A dispute needs a reason.")
            return {"reason": answers["reason"]}

        self.ask(f"Dispute — {row.debtor_name}", [Field("reason", "What is disputed")], parse,
                  lambda d: self._record(row, CallOutcome.DISPUTE, "dispute opened", **d))

    def action_paid_already(self) -> None:
        row = self.current
        if row is None:
            return

        def parse(answers: dict[str, str]) -> dict[str, object]:
            return {"note": answers["note"] or None}

        self.ask(f"Says it paid already — {row.debtor_name}",
                  [Field("note", "How and when (optional)")], parse,
                  lambda d: self._record(row, CallOutcome.PAID_ALREADY,
                                         "paid already, paused a week to check", **d))

    def action_no_answer(self) -> None:
        row = self.current
        if row is None:
            return
        retry = add_business_days(self.ctx.today, 1, row.country)

        def parse(answers: dict[str, str]) -> dict[str, object]:
            day = casework.parse_day(answers["retry"] or "", what="retry date")
            if day <= self.ctx.today:
                raise UsageError("The retry date must be after today.")
            return {"retry_on": day}

        self.ask(f"No answer — {row.debtor_name}",
                  [Field("retry", "Call again on", format.day(retry))], parse,
                  lambda d: self._record(row, CallOutcome.NO_ANSWER, "call again later", **d))

    def action_wrong_number(self) -> None:
        row = self.current
        if row is None or not self.may_write():
            return

        def then(yes: bool | None) -> None:
            if yes:
                self._record(row, CallOutcome.WRONG_NUMBER, "number removed")

        self.app.push_screen(ConfirmScreen(
            f"{row.phone} is a wrong number for {row.debtor_name}? It will be removed."),
            then)
