"""Escalations: proposals to move a case to amicable recovery or litigation.

Only a credit manager decides; above the workspace's threshold two different credit
managers must approve (four eyes), and whoever proposed cannot approve. The list
follows the store: a proposal whose debtor is paused or whose invoices are all paid or
disputed leaves it, and amounts are what is owed now."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine import casework
from relance.engine.casework import EscalationDecision
from relance.kernel.money import Money
from relance.tui import format, worklists
from relance.tui.screens.list_screen import WholeListScreen
from relance.tui.screens.modals import Field, FormScreen
from relance.tui.widgets.summary import summary_text


class EscalationsScreen(WholeListScreen[worklists.EscalationRow]):
    NAME = "escalations"
    ID_PREFIX = "esc"
    DETAIL_LINES = 9
    EMPTY = "No escalation waiting for a decision."
    COLUMNS = ("Debtor", "Cred.", "To", "Amount", "Since", "Approvals")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("r", "refuse", "Refuse"),
        Binding("c", "case", "Case"),
    ]

    def _needed(self, row: worklists.EscalationRow) -> int:
        amounts = [Money(row.currency, row.amount_minor)] if row.currency else []
        return 2 if self.ctx.policy.needs_two_approvals(amounts) else 1

    def reload(self) -> None:
        if self.ctx.actor.can_write:
            # Every case change settles the queue itself; this catches what changed the
            # book around it (a restored database, a manual fix) before anyone decides.
            # Those the list hides too: they are the ones most likely out of line.
            with self.ctx.writing() as session:
                for action_id in worklists.proposed_escalations(session):
                    casework.refresh_content(session, action_id, today=self.ctx.today)
        self.fill()

    def follow_changes(self) -> None:
        # What the poll saw was committed with its settlement: read, do not write (a
        # write here on every desk at each change would queue them all on the lock).
        self.fill()

    def read(self, session: Session) -> list[worklists.EscalationRow]:
        return worklists.escalations(session, self.ctx.today)

    def key(self, row: worklists.EscalationRow) -> int:
        return row.action_id

    def cells(self, row: worklists.EscalationRow) -> list[str | Text]:
        approvals = f"{len(row.approvers)}/{self._needed(row)}"
        if row.approvers:
            approvals += " " + ",".join(row.approvers)
        return [row.debtor_name[:28], row.creditor, row.target_stage,
                format.right(format.amount(row.amount_minor, row.currency)),
                format.short_day(row.created_on), approvals[:16]]

    def debtor_of(self, row: worklists.EscalationRow) -> int | None:
        return row.debtor_id

    def detail(self, row: worklists.EscalationRow) -> str:
        with self.ctx.reading() as session:
            summary = worklists.case_summary(session, row.debtor_id)
        rule = ("two credit managers must approve (four eyes)" if self._needed(row) == 2
                else "one credit manager approves")
        return (summary_text(summary, self.ctx.today)
                + f"\nEscalate {format.money(row.amount_minor, row.currency)} to "
                f"[b]{row.target_stage}[/b] · proposed by {row.proposed_by or 'the run'} on "
                f"{format.day(row.created_on)} · {rule}")

    def action_approve(self) -> None:
        row = self.current
        if row is None:
            return
        ctx = self.ctx

        def change(session: Session) -> EscalationDecision:
            return casework.approve_escalation(session, ctx.actor, row.seen,
                                               policy=ctx.policy, now=ctx.now)

        decision = self.perform(change)
        if decision == EscalationDecision.APPROVED:
            self.notify(f"{row.debtor_name}: escalated to {row.target_stage}")
        elif decision == EscalationDecision.AWAITING_SECOND:
            self.notify(f"{row.debtor_name}: your approval is recorded; a second credit "
                        "manager must approve (four eyes)")

    def action_refuse(self) -> None:
        row = self.current
        if row is None or not self.may_write():
            return
        ctx = self.ctx

        def then(answers: dict[str, str] | None) -> None:
            if not answers:
                return

            def change(session: Session) -> None:
                casework.reject(session, ctx.actor, row.seen, answers["reason"], now=ctx.now)

            self.perform(change, done=f"{row.debtor_name}: escalation refused")

        self.app.push_screen(FormScreen(
            f"Refuse the escalation of {row.debtor_name}", [Field("reason", "Reason")],
            lambda a: None if a["reason"] else "A refusal needs a reason."), then)
