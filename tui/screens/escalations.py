"""Escalations: proposals to move a case to amicable recovery or litigation.

Only a credit manager decides; above the workspace's threshold two different credit
managers must approve (four eyes), and whoever proposed cannot approve. The list
follows the store: a proposal whose debtor is paused or whose invoices are all paid or
disputed leaves it, and amounts are what is owed now. It can hold thousands of
proposals: searched, filtered and sorted by the database, read a page at a time."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine import casework
from relance.engine.casework import EscalationDecision
from relance.kernel.display import show_date, show_money
from relance.kernel.i18n import N_, _, ngettext
from relance.kernel.money import Money
from relance.tui import worklists
from relance.tui.screens.list_screen import SqlListScreen
from relance.tui.screens.modals import Field, FormScreen
from relance.tui.widgets.cursor import stage_name
from relance.tui.widgets.lazy_table import Column
from relance.tui.widgets.summary import case_summary, summary_text


class EscalationsScreen(SqlListScreen[worklists.EscalationRow]):
    NAME = "escalations"
    ID_PREFIX = "esc"
    DETAIL_LINES = 8
    EMPTY = N_("No escalation waiting for a decision.")
    COLUMNS: ClassVar[list[Column]] = [
        Column(N_("Debtor"), 16, sort="name", grow=3),
        Column(N_("Ref."), 8, sort="ref", grow=1),
        Column(N_("Cred."), 6, sort="creditor"),
        Column(N_("To"), 10, sort="stage"),
        Column(N_("Amount"), 14, "right", sort="amount"),
        Column(N_("Since"), 10, sort="created_on"),
        Column(N_("Approvals"), 9, sort="approvals", grow=1),
    ]
    FILTERS = ("creditor", "segment", "stage", "operator")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", N_("Approve")),
        Binding("r", "refuse", N_("Refuse")),
        Binding("enter,c", "case", N_("Case")),
    ]

    def sql_list(self) -> worklists.EscalationList:
        return worklists.EscalationList(self.ctx.today, creditor_ids=self.ctx.creditor_ids)

    def row_key(self, row: worklists.EscalationRow) -> Hashable:
        return row.action_id

    def shown_text(self, shown: int, total: int) -> str:
        return ngettext("{shown} escalation shown of {total}",
                        "{shown} escalations shown of {total}", shown).format(
            shown=shown, total=total)

    def _needed(self, row: worklists.EscalationRow) -> int:
        amounts = [Money(row.currency, row.amount_minor)] if row.currency else []
        return 2 if self.ctx.policy.needs_two_approvals(amounts) else 1

    def reload(self) -> None:
        if self.ctx.actor.can_write:
            # Every case change settles the queue itself; this catches what changed the
            # book around it (a restored database, a manual fix) before anyone decides.
            # Those the list hides too: they are the ones most likely out of line.
            with self.ctx.writing() as session:
                worklists.settle_escalations(session, self.ctx.today)
        super().reload()

    def follow_changes(self) -> None:
        # What the poll saw was committed with its settlement: read, do not write (a
        # write here on every desk at each change would queue them all on the lock).
        super().follow_changes()

    def cells(self, row: worklists.EscalationRow) -> list[str]:
        approvals = f"{len(row.approvers)}/{self._needed(row)}"
        if row.approvers:
            approvals += " " + ",".join(row.approvers)
        return [row.debtor_name, row.debtor_ref, row.creditor, stage_name(row.target_stage),
                show_money(row.amount_minor, row.currency), show_date(row.created_on),
                approvals]

    def debtor_of(self, row: worklists.EscalationRow) -> int | None:
        return row.debtor_id

    def detail(self, row: worklists.EscalationRow) -> str:
        with self.ctx.reading() as session:
            summary = case_summary(session, row.debtor_id)
        # The decision first and on one line of an 80-column terminal: when the case's
        # lines wrap, the panel's last line is the one cut, and it must not be this one.
        rule = _("four eyes") if self._needed(row) == 2 else _("one approval")
        decision = _(
            "Escalate {amount} to [b]{stage}[/b] · proposed by {who} on {day} · {rule}"
        ).format(amount=show_money(row.amount_minor, row.currency),
                 stage=stage_name(row.target_stage), who=row.proposed_by or _("the run"),
                 day=show_date(row.created_on), rule=rule)
        return decision + "\n" + summary_text(summary, self.ctx.today)

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
            self.notify(_("{debtor}: escalated to {stage}").format(
                debtor=row.debtor_name, stage=stage_name(row.target_stage)))
        elif decision == EscalationDecision.AWAITING_SECOND:
            self.notify(_("{debtor}: your approval is recorded; a second credit manager "
                          "must approve (four eyes)").format(debtor=row.debtor_name))

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

            self.perform(change, done=_("{debtor}: escalation refused").format(
                debtor=row.debtor_name))

        self.app.push_screen(FormScreen(
            _("Refuse the escalation of {debtor}").format(debtor=row.debtor_name),
            [Field("reason", _("Reason"))],
            lambda a: None if a["reason"] else _("A refusal needs a reason.")), then)
