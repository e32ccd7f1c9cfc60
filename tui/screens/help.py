"""The help screen (`?` or F1): what the screen shown does, and its keys — those of the
screen itself first, then those that work everywhere — read from the bindings active
at that moment, so that it never lists a key the screen does not have."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from relance.kernel.i18n import N_, _
from relance.tui.screens.modals import DeskModal


@dataclass(frozen=True)
class KeyHelp:
    keys: str  # as the footer shows them, several joined by " / "
    description: str  # in the desk's language
    everywhere: bool  # an application key, not the screen's own


# Textual's own keys of every screen (moving the focus, copying): not the screen's work.
GENERIC_KEYS = {(binding.action, binding.description)
            for binding in Binding.make_bindings(Screen.BINDINGS)}


def screen_keys(app: App[Any], screen: Screen[Any]) -> list[KeyHelp]:
    """The keys active on `screen`, one line per action (its keys together), and one
    line per group of keys (the screens' numbers): the screen's, then the
    application's. Keys of the focused widget (moving in a table, typing in a field)
    are the widget's usual ones and left out."""
    keys: dict[tuple[bool, str], list[str]] = defaultdict(list)
    descriptions: dict[tuple[bool, str], str] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if (not binding.description or binding.system
                or (binding.action, binding.description) in GENERIC_KEYS):
            continue
        node = active.node
        if isinstance(node, Widget) and not isinstance(node, Screen):
            continue
        shown = app.get_key_display(binding)
        if binding.group is not None:
            entry = (isinstance(node, App), f"group:{binding.group.description}")
            keys[entry].append(shown)
            item = f"{shown} {binding.description}"
            descriptions[entry] = (f"{descriptions[entry]} · {item}" if entry in descriptions
                                   else item)
            continue
        entry = (isinstance(node, App), binding.action)
        if shown not in keys[entry]:
            keys[entry].append(shown)
        descriptions.setdefault(entry, binding.description)
    lines = []
    for entry, shown_keys in keys.items():
        if entry[1].startswith("group:"):
            lines.append(KeyHelp(f"{shown_keys[0]}–{shown_keys[-1]}", _("{group}: {keys}").format(
                group=entry[1].removeprefix("group:"), keys=descriptions[entry]), entry[0]))
        else:
            lines.append(KeyHelp(" / ".join(shown_keys), descriptions[entry], entry[0]))
    return sorted(lines, key=lambda line: line.everywhere)


def _table(lines: list[KeyHelp]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for line in lines:
        table.add_row(line.keys, line.description)
    return table


class HelpScreen(DeskModal[None]):
    """What the screen under it is for and its keys; Esc, q, ? or F1 close it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    HelpScreen .title { text-style: bold; }
    HelpScreen .section { text-style: bold; color: $accent; margin-top: 1; }
    HelpScreen VerticalScroll { height: auto; max-height: 100%; }
    HelpScreen .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", N_("Close")),
    ]

    def __init__(self, about: str, lines: list[KeyHelp]) -> None:
        super().__init__()
        self.about = about
        self.lines = lines

    def compose(self) -> ComposeResult:
        own = [line for line in self.lines if not line.everywhere]
        everywhere = [line for line in self.lines if line.everywhere]
        with Vertical():
            yield Static(Text(self.about), classes="title", id="help-about")
            with VerticalScroll():
                if own:
                    yield Static(_("Keys of this screen"), classes="section")
                    yield Static(_table(own), id="help-own")
                yield Static(_("Everywhere"), classes="section")
                yield Static(_table(everywhere), id="help-everywhere")
            yield Static(_("Ctrl+P: do or find anything by name · Esc: close"),
                         classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
