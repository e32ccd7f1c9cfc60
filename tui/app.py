"""The operators' desk: a Textual app with one screen per job, switched by the number
keys (shown at the top and in the footer) or from the command palette (Ctrl+P), which
also does what the screens' keys do and finds cases by name (`relance.tui.commands`).
`?` or F1 lists the keys of the screen shown.

The desk speaks its workspace's language (`[ui] language`, else the environment's).

The screens stay true to the store: the app polls a change counter and reloads the
screen on show when anything was committed, by this desk or another process."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from sqlalchemy.exc import SQLAlchemyError
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.screen import Screen

from relance.kernel.i18n import N_, _, set_language
from relance.tui import worklists
from relance.tui.commands import DeskCommands
from relance.tui.context import TuiContext
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.calls import CallsScreen
from relance.tui.screens.case import CaseScreen
from relance.tui.screens.cases import CasesScreen
from relance.tui.screens.creditors import CreditorsScreen
from relance.tui.screens.dashboard import DashboardScreen
from relance.tui.screens.escalations import EscalationsScreen
from relance.tui.screens.help import HelpScreen, screen_keys
from relance.tui.screens.queue import QueueScreen
from relance.tui.screens.suspense import SuspenseScreen

SCREENS_GROUP = Binding.Group(N_("Screens"), compact=True)

# Each screen's title, then what it is for: the palette's "go to" and the help screen.
SCREEN_HELP = {
    "queue": (N_("Queue"), N_("proposed actions to approve or reject, by debtor")),
    "escalations": (N_("Escalations"),
                    N_("proposals to move a case to amicable recovery or litigation")),
    "calls": (N_("Calls"), N_("today's call list and outcomes")),
    "case": (N_("Case"),
             N_("one debtor's invoices, history, payments, pauses, disputes, notes")),
    "dashboard": (N_("Dashboard"),
                  N_("aged balance, DSO, today's runs and sends, what needs a look")),
    "suspense": (N_("Suspense"),
                 N_("payments not allocated yet, to allocate to a debtor's invoices")),
    "cases": (N_("Cases"), N_("every debtor's case, to search, sort and open")),
    "creditors": (N_("Creditors"),
                  N_("the creditors, whether their identity is complete, and editing it")),
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
        "cases": CasesScreen,
        "creditors": CreditorsScreen,
    }
    DEFAULT_MODE = "queue"
    # Textual's compact footer gives every key a one-cell right margin, the palette's
    # too; docked on the right, that margin leaves the last column open, and when the
    # keys overflow (80 columns) a letter of the key hidden beneath shows through it
    # ("^p paletter"). The palette's key ends on the last column instead.
    CSS = """
    Footer.-compact FooterKey.-command-palette { margin-right: 0; }
    """
    # How often the change counter is read: one index probe, so a second or two keeps
    # the lists current at no noticeable cost.
    POLL_SECONDS = 1.5
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = (
        App.COMMANDS | {DeskCommands})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('queue')", N_("Queue"), group=SCREENS_GROUP),
        Binding("2", "switch_mode('escalations')", N_("Escalations"), group=SCREENS_GROUP),
        Binding("3", "switch_mode('calls')", N_("Calls"), group=SCREENS_GROUP),
        Binding("4", "switch_mode('case')", N_("Case"), group=SCREENS_GROUP),
        Binding("5", "switch_mode('dashboard')", N_("Dashboard"), group=SCREENS_GROUP),
        Binding("6", "switch_mode('suspense')", N_("Suspense"), group=SCREENS_GROUP),
        Binding("7", "switch_mode('cases')", N_("Cases"), group=SCREENS_GROUP),
        Binding("8", "switch_mode('creditors')", N_("Creditors"), group=SCREENS_GROUP),
        Binding("question_mark", "help", N_("Help"), show=False),
        # F1 works under a dialog too (a priority key is seen before the dialog's).
        Binding("f1", "help", N_("Help"), show=False, priority=True),
        Binding("q", "quit", N_("Quit"), show=False),
    ]

    def __init__(self, ctx: TuiContext) -> None:
        # Before anything is composed: every title and key is read in this language.
        set_language(ctx.workspace.language)
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
        if not self.is_running:
            return  # the desk is closing: its screens are being taken down
        try:
            mark = self._read_mark()
        except SQLAlchemyError:
            return  # a database blip: the next tick tries again, the desk stays open
        if mark == self.change_mark:
            return
        self.change_mark = mark
        screen = self.screen
        # A screen still being composed has no widgets to fill yet (it reads the store
        # itself when shown, `on_screen_resume`); one being taken down as the desk
        # closes has lost them already (`is_attached` is false once the app exits).
        if (isinstance(screen, DeskScreen) and screen.LIVE and screen.is_mounted
                and screen.is_attached):
            screen.follow_changes()

    def open_case(self, debtor_id: int) -> None:
        """Show one debtor's case (from any screen)."""
        self.case_debtor_id = debtor_id
        self.switch_mode("case")

    def action_help(self) -> None:
        """The help of the screen shown: what it is for and its keys."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        # Under a dialog, the dialog's keys: it is what the keys act on.
        title, about = (SCREEN_HELP.get(self.current_mode, ("", ""))
                        if isinstance(screen, DeskScreen) else ("", ""))
        heading = (_("{title}: {about}").format(title=_(title), about=_(about)) if title
                   else _("Keys of this dialog"))
        self.push_screen(HelpScreen(heading, screen_keys(self, screen)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for mode, (title, about) in SCREEN_HELP.items():
            if mode not in self.MODES:
                continue
            yield SystemCommand(_("Go to {title}").format(title=_(title)), _(about),
                                lambda mode=mode: self.switch_mode(mode))
        yield from super().get_system_commands(screen)
