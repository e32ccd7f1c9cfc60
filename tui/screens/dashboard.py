"""The dashboard: the aged balance by creditor and segment to the cent, DSO, today's runs
and sends, and the failed or uncertain sends that need a person to look at them."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from relance.channels import claims
from relance.engine.aging import BUCKET_TITLES, AgedLine
from relance.kernel.errors import RelanceError
from relance.kernel.money import decimal_text
from relance.store.db import Store
from relance.tui import format, ledger
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import ConfirmScreen
from relance.tui.widgets.mode_bar import ModeBar

AMOUNT_WIDTH = 11
LABEL_WIDTH = 11


def _amount_cell(minor: int, currency: str, style: str = "") -> Text:
    # Exact to the cent and without thousands spaces, so that six columns of up to
    # 99999999.99 fit in 80 columns.
    return Text(decimal_text(minor, currency).rjust(AMOUNT_WIDTH), style=style,
                justify="right")


def _channel_operation(name: str) -> Callable[[Store, int, str], None]:
    """`confirm_sent` or `resend`: the channels' claims own what they do to an action."""
    return {"confirm_sent": claims.confirm_sent, "resend": claims.resend}[name]


class DashboardScreen(DeskScreen):
    DEFAULT_CSS = """
    #dash-stats { height: 2; padding: 0 1; background: $boost; }
    #dash-aged { height: 1fr; }
    #dash-look-title { height: 1; padding: 0 1; text-style: bold; }
    #dash-look { height: 6; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "confirm_sent", "Confirm sent"),
        Binding("R", "resend", "Resend"),
        Binding("c", "case", "Case"),
        Binding("tab", "app.focus_next", "Next table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.look: list[tuple[int, str, str, str, str]] = []
        self.look_debtors: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        yield ModeBar("dashboard")
        yield Static("", id="dash-stats")
        aged: DataTable[Text] = DataTable(id="dash-aged", cursor_type="row", cell_padding=0)
        aged.add_column("", width=LABEL_WIDTH)
        for name in BUCKET_TITLES:
            aged.add_column(Text(name.rjust(AMOUNT_WIDTH), justify="right"), width=AMOUNT_WIDTH)
        aged.add_column(Text("Total".rjust(AMOUNT_WIDTH), justify="right"), width=AMOUNT_WIDTH)
        yield aged
        yield Static("To look at: uncertain and failed sends", id="dash-look-title")
        look: DataTable[str] = DataTable(id="dash-look", cursor_type="row")
        look.add_columns("#", "State", "Chan.", "Debtor", "Error")
        yield look
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#dash-look", DataTable).focus()

    def reload(self) -> None:
        # The aged balance reads every open invoice: on a big book that takes a moment,
        # so it is read off the UI thread and the screen fills in when it is ready.
        self.query_one("#dash-stats", Static).update("Reading the book…")
        self.run_worker(self._read, thread=True, exclusive=True, group="dashboard")

    def _read(self) -> None:
        today = self.ctx.today
        with self.ctx.reading() as session:
            board = ledger.dashboard(session, today)
            debtors = ledger.action_debtors(session, [row[0] for row in board.to_look_at])
        self.app.call_from_thread(self._fill, board, debtors)

    def _fill(self, board: ledger.Dashboard, debtors: dict[int, int]) -> None:
        today = self.ctx.today
        self.look_debtors = debtors
        sent = ", ".join(f"{k} {v}" for k, v in sorted(board.sent_today.items())) or "none"
        dso = ", ".join(f"{v} days ({c})" if v is not None else f"— ({c})"
                        for c, v in sorted(board.dso.items())) or "—"
        self.query_one("#dash-stats", Static).update(
            f"{format.day(today)} · runs today {board.runs_today} · queued {board.queued_today}"
            f" · sent {sent}\nDSO {dso} · [b]failed {board.failed}[/b] · "
            f"[b]uncertain {board.uncertain}[/b]")
        aged: DataTable[Text] = self.query_one("#dash-aged", DataTable)
        aged.clear()
        blank = [Text("")] * 6
        # The main currency first: the one with the most owed.
        for total in sorted(board.totals, key=lambda line: -abs(line.total)):
            currency = total.currency
            aged.add_row(Text(currency, style="bold"), *blank)
            for title, lines in ((" creditors", board.by_creditor),
                                 (" segments", board.by_segment)):
                aged.add_row(Text(title, style="italic"), *blank)
                for line in lines:
                    if line.currency == currency:
                        self._aged_row(aged, line.label, line)
            self._aged_row(aged, f"Total {currency}", total, style="bold")
        self._fill_look(board)

    def _aged_row(self, table: DataTable[Text], label: str, line: AgedLine,
                  style: str = "") -> None:
        table.add_row(Text(format.clip(label, LABEL_WIDTH), style=style),
                      *[_amount_cell(v, line.currency, style) for v in line.buckets],
                      _amount_cell(line.total, line.currency, style))

    def _fill_look(self, board: ledger.Dashboard) -> None:
        look: DataTable[str] = self.query_one("#dash-look", DataTable)
        look.clear()
        self.look = board.to_look_at
        for action_id, state, channel, debtor, error in board.to_look_at:
            look.add_row(str(action_id), state, channel, debtor[:24], error[:40],
                         key=str(action_id))

    def _current(self) -> tuple[int, str, str, str, str] | None:
        look: DataTable[str] = self.query_one("#dash-look", DataTable)
        if not self.look or not 0 <= look.cursor_row < len(self.look):
            return None
        return self.look[look.cursor_row]

    def _channel_action(self, name: str, verb: str) -> None:
        row = self._current()
        if row is None:
            return
        operation = _channel_operation(name)
        if row[1] != "uncertain" and name == "confirm_sent":
            self.notify("Only an uncertain send can be confirmed as sent", severity="warning")
            return
        ctx = self.ctx

        def then(yes: bool | None) -> None:
            if not yes:
                return
            try:
                operation(ctx.store, row[0], ctx.actor.name)
            except RelanceError as exc:
                self.notify(exc.message, title="Not done", severity="error")
            else:
                self.notify(f"Action {row[0]}: {verb.lower()} recorded")
            self.reload()

        self.app.push_screen(ConfirmScreen(f"{verb}: action {row[0]} ({row[2]} to {row[3]})?"),
                             then)

    def action_confirm_sent(self) -> None:
        if not self.ctx.actor.can_write:
            self.notify("Auditors change nothing", severity="error")
            return
        self._channel_action("confirm_sent", "Confirm sent")

    def action_resend(self) -> None:
        if not self.ctx.actor.can_write:
            self.notify("Auditors change nothing", severity="error")
            return
        self._channel_action("resend", "Resend")

    def action_case(self) -> None:
        row = self._current()
        if row is not None and row[0] in self.look_debtors:
            self.desk.open_case(self.look_debtors[row[0]])
