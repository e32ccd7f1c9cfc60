"""Cases: the debtors who owe something, with their balance, the furthest stage their
invoices reached and the last reminder sent; Enter opens the case.

A book can hold a hundred thousand debtors: the list is searched, filtered and sorted
by the database and read a page at a time, like the other lists; after a commit, only
the rows of the debtors it touched are read again (`relance.tui.case_list`)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from rich.markup import escape
from sqlalchemy.orm import Session
from textual.binding import Binding, BindingType

from relance.engine.words import channel_word
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.i18n import N_, _, ngettext
from relance.tui.case_list import CaseList, CaseRow
from relance.tui.screens.list_screen import SqlListScreen
from relance.tui.widgets.cursor import View, stage_name
from relance.tui.widgets.lazy_table import Column


class CasesScreen(SqlListScreen[CaseRow]):
    NAME = "cases"
    ID_PREFIX = "cases"
    DETAIL_LINES = 3
    EMPTY = N_("No debtor owes anything.")
    COLUMNS: ClassVar[list[Column]] = [
        Column(N_("Debtor"), 16, sort="name", grow=3),
        Column(N_("Ref."), 8, sort="ref", grow=1),
        Column(N_("Stage"), 10, sort="rank"),
        Column(N_("Balance"), 14, "right", sort="amount"),
        Column(N_("Inv"), 4, "right", sort="invoices"),
        Column(N_("Last sent"), 10, sort="last_action"),
    ]
    FILTERS = ("creditor", "segment", "stage")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,c", "case", N_("Open")),
    ]

    def sql_list(self) -> CaseList:
        return CaseList(self.ctx.today, creditor_ids=self.ctx.creditor_ids)

    def row_key(self, row: CaseRow) -> Hashable:
        return (row.debtor_id, row.currency)

    def read_position(self, session: Session, view: View, row: CaseRow
                      ) -> int | None:
        return self.rows_list.position(session, view, row.debtor_id)

    def shown_text(self, shown: int, total: int) -> str:
        return ngettext("{shown} case shown of {total}", "{shown} cases shown of {total}",
                        shown).format(shown=shown, total=total)

    def cells(self, row: CaseRow) -> list[str]:
        return [row.debtor_name, row.debtor_ref, stage_name(row.stage),
                show_money(row.amount_minor, row.currency), show_count(row.invoices),
                show_date(row.last_action_on) or "—"]

    def debtor_of(self, row: CaseRow) -> int | None:
        return row.debtor_id

    def detail(self, row: CaseRow) -> str:
        invoices = ngettext("{count} open invoice", "{count} open invoices",
                            row.invoices).format(count=row.invoices)
        lines = [_("{name} {ref} · {creditor} · {segment} · {balance} on {invoices}, oldest "
                   "due {day}").format(
            name=escape(row.debtor_name), ref=escape(row.debtor_ref), creditor=row.creditor,
            segment=escape(row.segment), balance=show_money(row.amount_minor, row.currency),
            invoices=invoices, day=show_date(row.oldest_due))]
        if row.last_action_on:
            lines.append(_("Last sent: {what} on {day}").format(
                what=channel_word(row.last_channel),
                day=show_date(row.last_action_on)))
        if row.paused_until and row.paused_until >= self.ctx.today:
            lines.append(_("Paused until {day}").format(day=show_date(row.paused_until)))
        return "\n".join(lines)
