"""The operators' desk: a Textual app with one screen per job, switched by 1-6 (shown at
the top and in the footer) or from the command palette (Ctrl+P).

The screens stay true to the store: the app polls a change counter and reloads the
screen on show when anything was committed, by this desk or another process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from relance.tui import worklists
from relance.tui.context import TuiContext
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.calls import CallsScreen
from relance.tui.screens.case import CaseScreen
from relance.tui.screens.dashboard import DashboardScreen
from relance.tui.screens.escalations import EscalationsScreen
from relance.tui.screens.queue import QueueScreen
from relance.tui.screens.suspense import SuspenseScreen

SCREENS_GROUP = Binding.Group("Screens", compact=True)

SCREEN_HELP = {
    "queue": "Queue: proposed actions to approve or reject, by debtor",
    "escalations": "Escalations: proposals to move a case to amicable recovery or litigation",
    "calls": "Calls: today's call list and outcomes",
    "case": "Case: one debtor's invoices, history, payments, pauses, disputes, notes",
    "dashboard": "Dashboard: aged balance, DSO, today's runs and sends, what needs a look",
    "suspense": "Suspense: payments not allocated yet, to allocate to a debtor's invoices",
}


class RelanceApp(App[None]):
    TITLE = "relance"
    MODES: ClassVar[dict[str, type[Screen[None]]]] = {  # type: ignore[assignment]
        "queue": QueueScreen,
        "escalations": EscalationsScreen,
        "calls": CallsScreen,
        "case": CaseScreen,
        "dashboard": DashboardScreen,
        "suspense": SuspenseScreen,
    }
    DEFAULT_MODE = "queue"
    # How often the change counter is read: one index probe, so a second or two keeps
    # the lists current at no noticeable cost.
    POLL_SECONDS = 1.5
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('queue')", "Queue", group=SCREENS_GROUP),
        Binding("2", "switch_mode('escalations')", "Escalations", group=SCREENS_GROUP),
        Binding("3", "switch_mode('calls')", "Calls", group=SCREENS_GROUP),
        Binding("4", "switch_mode('case')", "Case", group=SCREENS_GROUP),
        Binding("5", "switch_mode('dashboard')", "Dashboard", group=SCREENS_GROUP),
        Binding("6", "switch_mode('suspense')", "Suspense", group=SCREENS_GROUP),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.case_debtor_id: int | None = None
        self.sub_title = f"{ctx.actor.name} ({ctx.actor.role.value})"
        self.change_mark = 0

    def on_mount(self) -> None:
        self.change_mark = self._read_mark()
        self.set_interval(self.POLL_SECONDS, self.follow_changes)

    def _read_mark(self) -> int:
        with self.ctx.reading() as session:
            return worklists.change_mark(session)

    def follow_changes(self) -> None:
        """Reload the screen on show if anything was committed since the last look. A
        screen under a form is left alone: it reloads when the form closes."""
        try:
            mark = self._read_mark()
        except SQLAlchemyError:
            return  # a database blip: the next tick tries again, the desk stays open
        if mark == self.change_mark:
            return
        self.change_mark = mark
        screen = self.screen
        # A screen still being composed has no widgets to fill yet; it reads the store
        # itself when it is shown (on_screen_resume), so this tick can pass it by.
        if isinstance(screen, DeskScreen) and screen.LIVE and screen.is_mounted:
            screen.follow_changes()

    def open_case(self, debtor_id: int) -> None:
        """Show one debtor's case (from any screen)."""
        self.case_debtor_id = debtor_id
        self.switch_mode("case")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for mode, text in SCREEN_HELP.items():
            title, _, help_text = text.partition(": ")
            yield SystemCommand(f"Go to {title}", help_text,
                                lambda mode=mode: self.switch_mode(mode))
        yield from super().get_system_commands(screen)
