"""Suspense: payments with money no invoice has taken, those no debtor is known for
first (a bank line nobody matched), then credits left on a debtor's account; and
allocating one to a debtor's invoices."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from relance.engine import casework
from relance.kernel.errors import UsageError
from relance.store.models import Debtor
from relance.tui import casefile, entry, format, ledger
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field
from relance.tui.widgets.cursor import highlighted_key, restore_cursor
from relance.tui.widgets.mode_bar import ModeBar


class SuspenseScreen(DeskScreen):
    LIVE = True
    DEFAULT_CSS = """
    #suspense-table { height: 1fr; }
    #suspense-detail { height: 4; border-top: solid $primary; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "allocate", "Allocate"),
        Binding("c", "case", "Case"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, ledger.SuspenseRow] = {}

    def compose(self) -> ComposeResult:
        yield ModeBar("suspense")
        table: DataTable[str | Text] = DataTable(id="suspense-table", cursor_type="row",
                                                 zebra_stripes=True)
        table.add_columns("#", "Received", "Amount", "Left", "Debtor", "Reference")
        yield table
        yield Static("", id="suspense-detail")
        yield Footer(compact=True)

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#suspense-table", DataTable)

    def on_mount(self) -> None:
        self.table.focus()

    def reload(self) -> None:
        with self.ctx.reading() as session:
            rows = ledger.suspense(session)
        table = self.table
        key, keep = highlighted_key(table), table.cursor_row
        table.clear()
        self.rows = {row.payment_id: row for row in rows}
        for row in rows:
            table.add_row(str(row.payment_id), format.short_day(row.received_on),
                          format.right(format.amount(row.amount_minor, row.currency)),
                          format.right(format.amount(row.left_minor, row.currency)),
                          row.debtor_name[:22] if row.debtor_id else "— suspense",
                          row.reference[:20], key=str(row.payment_id))
        restore_cursor(table, key, keep)
        self._show_detail()

    @property
    def current(self) -> ledger.SuspenseRow | None:
        key = highlighted_key(self.table)
        return self.rows.get(int(key)) if key and self.rows else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        panel = self.query_one("#suspense-detail", Static)
        row = self.current
        if row is None:
            panel.update("No payment waiting to be allocated.")
            return
        whose = (f"on the account of [b]{escape(row.debtor_name)}[/b] {escape(row.debtor_ref)}"
                 if row.debtor_id else "[b]in suspense[/b]: no debtor known")
        taken = f" · already on {', '.join(row.allocated_to)}" if row.allocated_to else ""
        bank = f" · bank ref {escape(row.bank_ref)}" if row.bank_ref else ""
        panel.update(
            f"Payment #{row.payment_id} · {format.money(row.amount_minor, row.currency)} "
            f"received {format.day(row.received_on)} · "
            f"{format.money(row.left_minor, row.currency)} left\n"
            f"{whose}{taken}\n"
            f"“{escape(row.reference)}” · {row.source}{bank} · recorded by "
            f"{escape(row.recorded_by or '?')}")

    def _debtor(self, session: Session, row: ledger.SuspenseRow, text: str) -> Debtor:
        """The debtor typed (a reference, or part of a name), among the creditor's."""
        found = casefile.find_debtors(session, text, limit=5, creditor_id=row.creditor_id)
        if not found:
            raise UsageError(f"No debtor matches {text!r}.")
        if len(found) > 1 and found[0].ref.lower() != text.strip().lower():
            names = ", ".join(f"{d.name} ({d.ref})" for d in found[:3])
            raise UsageError(f"{len(found)} debtors match: {names}… type the reference.")
        return found[0]

    def action_allocate(self) -> None:
        row = self.current
        if row is None:
            return
        ctx = self.ctx

        def parse(answers: dict[str, str]) -> dict[str, str]:
            if not answers["debtor"]:
                raise UsageError("Name the debtor who paid (reference or name).")
            with ctx.reading() as session:
                debtor = self._debtor(session, row, answers["debtor"])
                self._shares(session, debtor, answers["invoices"], row)
            return answers

        def apply(answers: dict[str, str]) -> None:
            def change(session: Session) -> str:
                debtor = self._debtor(session, row, answers["debtor"])
                shares = self._shares(session, debtor, answers["invoices"], row)
                done = casework.allocate_payment(session, ctx.actor, row.payment_id,
                                                 debtor_id=debtor.id, allocations=shares,
                                                 today=ctx.today)
                went = ", ".join(f"{a.number} {format.amount(a.amount_minor, row.currency)}"
                                 for a in done)
                return f"Payment #{row.payment_id} allocated to {debtor.name}: {went}"

            said = self.perform(change)
            if said:
                self.notify(said)

        self.ask(f"Allocate payment #{row.payment_id} "
                 f"({format.money(row.left_minor, row.currency)} left)", [
            Field("debtor", "Debtor (reference or name)", row.debtor_ref),
            Field("invoices", "Invoices with amounts (empty: the oldest due first)",
                  placeholder="FA-1:500, FA-2:120"),
        ], parse, apply)

    def _shares(self, session: Session, debtor: Debtor, text: str,
                row: ledger.SuspenseRow) -> list[tuple[int, int]] | None:
        """The allocations typed: None for the oldest due first. An allocation takes an
        amount per invoice: the payment may be meant for part of each."""
        if not text:
            return None
        invoices = ledger.debtor_invoices(
            session, debtor.id, [item.partition(":")[0].strip() for item in entry.items(text)])
        named = entry.named_invoices(text, list(invoices.values()))
        if not all(amount for _, amount in named):
            raise UsageError("Give an amount for each invoice (FA-1:500), or leave it "
                             "empty for the oldest due first.")
        return entry.amounts(named, row.currency)

    def action_case(self) -> None:
        row = self.current
        if row is not None and row.debtor_id is not None:
            self.desk.open_case(row.debtor_id)
        elif row is not None:
            self.notify("No debtor known for this payment yet: a allocates it to one")
