"""The dashboard, in three views (`v` goes from one to the next):

- the overview: the aged balance of each currency by bucket with its DSO, today's runs
  and sends, and the failed or uncertain sends that need a person (`s`, `R`, `c`);
- the breakdown: the same balance by creditor and by segment;
- the trends: the aged balance and DSO at each month's end of the last twelve months
  (`relance.engine.trends`), one currency at a time (`m` for the next).

Each fits 80x24: the overview's amounts stand one currency to a column, with their
currency, so that millions still fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Footer, Static
from textual_plotext import PlotextPlot

from relance.channels import in_doubt
from relance.engine.aging import AgedLine
from relance.engine.trends import CurrencyTrend, trends
from relance.engine.words import channel_word
from relance.kernel.display import show_count, show_date, show_decimal, show_money
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import N_, _, ngettext
from relance.store.db import Store
from relance.tui import format, ledger
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import ConfirmScreen
from relance.tui.widgets.mode_bar import ModeBar
from relance.tui.widgets.trend_plots import draw_aged, draw_dso

VIEWS = ("overview", "breakdown", "trends")
VIEW_NAMES = {"overview": N_("Overview"), "breakdown": N_("By creditor and segment"),
              "trends": N_("Trends over 12 months")}
BUCKET_NAMES = (N_("Not due"), N_("1–30 days"), N_("31–60 days"), N_("61–90 days"),
                N_("Over 90 days"))
STATE_NAMES = {"uncertain": N_("uncertain"), "failed": N_("failed")}
LABEL_WIDTH = 16
PLOT_THEME: Final = "textual-dark"
# Keys that act on the list of sends to look at, shown in the overview only.
LOOK_ACTIONS = ("confirm_sent", "resend", "case")


def _money_cell(minor: int, currency: str, style: str = "") -> Text:
    return Text(show_money(minor, currency), style=style, justify="right")


def _heading(text: str) -> Text:
    return Text(text, justify="right")


def _channel_operation(name: str) -> Callable[[Store, int, str], None]:
    """`confirm_sent` or `resend`: the channels own what they do to an action."""
    return {"confirm_sent": in_doubt.confirm_sent, "resend": in_doubt.resend}[name]


def _sent_today(board: ledger.Dashboard) -> str:
    if not board.sent_today:
        return _("Sent today: none")
    sent = " · ".join(f"{channel_word(channel)} {show_count(count)}"
                      for channel, count in sorted(board.sent_today.items()))
    return _("Sent today: {channels}").format(channels=sent)


class DashboardScreen(DeskScreen):
    DEFAULT_CSS = """
    #dash-title { height: 1; padding: 0 1; background: $boost; }
    #dash-views { height: 1fr; }
    #dash-overview { height: 1fr; }
    #dash-top { height: auto; }
    #dash-aged { width: 1fr; height: auto; }
    #dash-today { width: 30; height: auto; padding: 0 1; border-left: solid $primary; }
    #dash-look-title { height: 1; padding: 0 1; text-style: bold; }
    #dash-look { height: 1fr; }
    #dash-breakdown { height: 1fr; }
    #dash-trends { height: 1fr; }
    #dash-trend-aged { width: 3fr; }
    #dash-trend-dso { width: 2fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "confirm_sent", N_("Confirm sent")),
        Binding("R", "resend", N_("Resend")),
        Binding("c", "case", N_("Case")),
        Binding("v", "next_view", N_("View")),
        Binding("t", "show_view('trends')", N_("Trends"), show=False),
        Binding("m", "next_currency", N_("Currency")),
        Binding("tab", "app.focus_next", N_("Next table"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.look: list[tuple[int, str, str, str, str]] = []
        self.look_debtors: dict[int, int] = {}
        self.view = "overview"
        self.trends: list[CurrencyTrend] | None = None
        self.trend_index = 0

    def compose(self) -> ComposeResult:
        yield ModeBar("dashboard")
        yield Static("", id="dash-title")
        with ContentSwitcher(initial="dash-overview", id="dash-views"):
            with Vertical(id="dash-overview"):
                with Horizontal(id="dash-top"):
                    aged: DataTable[Text] = DataTable(id="dash-aged", cursor_type="none",
                                                      cell_padding=1)
                    aged.can_focus = False
                    yield aged
                    yield Static("", id="dash-today")
                yield Static("", id="dash-look-title")
                look: DataTable[str] = DataTable(id="dash-look", cursor_type="row")
                look.add_columns("#", _("State"), _("Channel"), _("Debtor"), _("Error"))
                yield look
            yield DataTable(id="dash-breakdown", cursor_type="row", cell_padding=1)
            with Horizontal(id="dash-trends"):
                for plot_id in ("dash-trend-aged", "dash-trend-dso"):
                    plot = PlotextPlot(id=plot_id)
                    # A fixed theme: the "auto" one is registered when a first plot is
                    # mounted, so the very first drawing of a process had other colours.
                    plot.theme = PLOT_THEME
                    yield plot
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#dash-look", DataTable).focus()
        self._title()

    # ------------------------------------------------------------------ the views

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LOOK_ACTIONS:
            return self.view == "overview"
        if action == "next_currency":
            return self.view == "trends" and len(self.trends or ()) > 1
        return True

    def _title(self) -> None:
        hint = _("v: next view")
        self.query_one("#dash-title", Static).update(
            Text.assemble((_(VIEW_NAMES[self.view]), "bold"), " · ",
                          show_date(self.ctx.today), "  ", (hint, "italic")))

    def action_next_view(self) -> None:
        self.action_show_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_show_view(self, view: str) -> None:
        self.view = view
        ids = {"overview": "dash-overview", "breakdown": "dash-breakdown",
               "trends": "dash-trends"}
        self.query_one("#dash-views", ContentSwitcher).current = ids[view]
        self._title()
        if view == "overview":
            self.query_one("#dash-look", DataTable).focus()
        elif view == "breakdown":
            self.query_one("#dash-breakdown", DataTable).focus()
        else:
            self.set_focus(None)
            self._show_trends()
        self.refresh_bindings()

    def action_next_currency(self) -> None:
        if self.trends:
            self.trend_index = (self.trend_index + 1) % len(self.trends)
            self._draw_trends()

    # ------------------------------------------------------------------ reading

    def reload(self) -> None:
        # The aged balance reads every open invoice: on a big book that takes a moment,
        # so it is read off the UI thread and the screen fills in when it is ready.
        self.query_one("#dash-look-title", Static).update(_("Reading the book…"))
        self.trends = None
        self.run_worker(self._read, thread=True, exclusive=True, group="dashboard")
        if self.view == "trends":
            self._show_trends()

    def _read(self) -> None:
        today = self.ctx.today
        with self.ctx.reading() as session:
            board = ledger.dashboard(session, today, self.ctx.creditor_ids)
            debtors = ledger.action_debtors(session, [row[0] for row in board.to_look_at])
        self.app.call_from_thread(self._fill, board, debtors)

    def _show_trends(self) -> None:
        """The trends read twelve aged balances: only when they are looked at."""
        if self.trends is not None:
            self._draw_trends()
            return
        self.run_worker(self._read_trends, thread=True, exclusive=True, group="trends")

    def _read_trends(self) -> None:
        with self.ctx.reading() as session:
            found = trends(session, self.ctx.today, creditor_ids=self.ctx.creditor_ids)
        self.app.call_from_thread(self._got_trends, found)

    def _got_trends(self, found: list[CurrencyTrend]) -> None:
        self.trends = found
        self.trend_index = min(self.trend_index, max(len(found) - 1, 0))
        self._draw_trends()
        self.refresh_bindings()

    def _draw_trends(self) -> None:
        if not self.trends:
            return
        trend = self.trends[self.trend_index]
        draw_aged(self.query_one("#dash-trend-aged", PlotextPlot), trend)
        draw_dso(self.query_one("#dash-trend-dso", PlotextPlot), trend)

    # ------------------------------------------------------------------ filling

    def _fill(self, board: ledger.Dashboard, debtors: dict[int, int]) -> None:
        self.look_debtors = debtors
        # The main currency first: the one with the most owed.
        totals = sorted(board.totals, key=lambda line: -abs(line.total))
        self._fill_aged(totals, board)
        self._fill_today(board)
        self._fill_breakdown(totals, board)
        self._fill_look(board)

    def _fill_aged(self, totals: list[AgedLine], board: ledger.Dashboard) -> None:
        """One column per currency: buckets, total, DSO."""
        aged: DataTable[Text] = self.query_one("#dash-aged", DataTable)
        aged.clear(columns=True)
        aged.add_column("", width=LABEL_WIDTH)
        for total in totals:
            aged.add_column(_heading(total.currency), key=total.currency)
        if not totals:
            aged.add_column(_heading(_("Nothing owed")))
            return
        for index, name in enumerate(BUCKET_NAMES):
            aged.add_row(Text(_(name)), *[_money_cell(t.buckets[index], t.currency)
                                          for t in totals])
        aged.add_row(Text(_("Total"), style="bold"),
                     *[_money_cell(t.total, t.currency, "bold") for t in totals])
        aged.add_row(Text(_("DSO"), style="bold"), *[
            _heading(_("{days} days").format(days=show_decimal(days))
                     if (days := board.dso.get(t.currency)) is not None else "—")
            for t in totals])

    def _fill_today(self, board: ledger.Dashboard) -> None:
        runs = ngettext("{count} run", "{count} runs", board.runs_today).format(
            count=show_count(board.runs_today))
        queued = ngettext("{count} action queued", "{count} actions queued",
                          board.queued_today).format(count=show_count(board.queued_today))
        parts: list[str | tuple[str, str]] = [
            (_("Today, {day}").format(day=show_date(self.ctx.today)), "bold"), "\n",
            runs, "\n", queued, "\n", _sent_today(board)]
        if board.funds_overdue:
            # Money the firm holds for its clients past the mandate's period (R124-6).
            amounts = ", ".join(show_money(amount, currency) for currency, (amount, _count)
                                in sorted(board.funds_overdue.items()))
            count = sum(count for _amount, count in board.funds_overdue.values())
            parts += ["\n", (ngettext(
                "Client funds to remit, overdue: {amounts} ({count} payment, up to {days} "
                "days late: relance funds)",
                "Client funds to remit, overdue: {amounts} ({count} payments, up to {days} "
                "days late: relance funds)", count).format(
                amounts=amounts, count=show_count(count),
                days=show_count(board.funds_overdue_days)), "bold red")]
        self.query_one("#dash-today", Static).update(Text.assemble(*parts))

    def _fill_breakdown(self, totals: list[AgedLine], board: ledger.Dashboard) -> None:
        table: DataTable[Text] = self.query_one("#dash-breakdown", DataTable)
        table.clear(columns=True)
        table.add_column("", width=LABEL_WIDTH)
        for heading in (_("Not due"), _("Overdue"), _("Over 90 days"), _("Total")):
            table.add_column(_heading(heading))
        blank = [Text("")] * 4
        for total in totals:
            currency = total.currency
            table.add_row(Text(currency, style="bold reverse"), *blank)
            for title, lines in ((_("By creditor"), board.by_creditor),
                                 (_("By segment"), board.by_segment)):
                table.add_row(Text(title, style="italic"), *blank)
                for line in lines:
                    if line.currency == currency:
                        self._breakdown_row(table, line.label, line)
            self._breakdown_row(table, _("Total {currency}").format(currency=currency),
                                total, style="bold")

    def _breakdown_row(self, table: DataTable[Text], label: str, line: AgedLine,
                       style: str = "") -> None:
        figures = (line.buckets[0], line.overdue, line.buckets[-1], line.total)
        table.add_row(Text(format.clip(label, LABEL_WIDTH), style=style),
                      *[_money_cell(v, line.currency, style) for v in figures])

    def _fill_look(self, board: ledger.Dashboard) -> None:
        style = "bold red" if board.failed or board.uncertain else "bold"
        self.query_one("#dash-look-title", Static).update(Text(
            _("To look at: {failed} failed, {uncertain} uncertain sends").format(
                failed=show_count(board.failed), uncertain=show_count(board.uncertain)),
            style=style))
        look: DataTable[str] = self.query_one("#dash-look", DataTable)
        look.clear()
        self.look = board.to_look_at
        for action_id, state, channel, debtor, error in board.to_look_at:
            look.add_row(str(action_id), _(STATE_NAMES.get(state, state)),
                         channel_word(channel), debtor[:24], error[:40],
                         key=str(action_id))

    # ------------------------------------------------------------------ acting

    def _current(self) -> tuple[int, str, str, str, str] | None:
        look: DataTable[str] = self.query_one("#dash-look", DataTable)
        if not self.look or not 0 <= look.cursor_row < len(self.look):
            return None
        return self.look[look.cursor_row]

    def _channel_action(self, name: str) -> None:
        row = self._current()
        if row is None:
            return
        if not self.may_write():
            return
        if row[1] != "uncertain" and name == "confirm_sent":
            self.notify(_("Only an uncertain send can be confirmed as sent"),
                        severity="warning")
            return
        operation = _channel_operation(name)
        action_id, _state, channel, debtor, _error = row
        what = {"id": action_id, "channel": channel_word(channel),
                "debtor": debtor}
        if name == "confirm_sent":
            question = _("Confirm that action {id} ({channel} to {debtor}) went out?")
            done = _("Action {id}: recorded as sent")
        else:
            question = _("Send action {id} ({channel} to {debtor}) again?")
            done = _("Action {id}: back in the queue, to be sent again")
        ctx = self.ctx

        def then(yes: bool | None) -> None:
            if not yes:
                return
            try:
                operation(ctx.store, action_id, ctx.actor.name)
            except RelanceError as exc:
                self.notify(exc.message, title=_("Not done"), severity="error")
            else:
                self.notify(done.format(**what))
            self.reload()

        self.app.push_screen(ConfirmScreen(question.format(**what)), then)

    def action_confirm_sent(self) -> None:
        self._channel_action("confirm_sent")

    def action_resend(self) -> None:
        self._channel_action("resend")

    def action_case(self) -> None:
        row = self._current()
        if row is not None and row[0] in self.look_debtors:
            self.desk.open_case(self.look_debtors[row[0]])
