"""The top line: the screens with their keys (the current one lit), and who is acting.

The screens are read from the application's number keys (`switch_mode('…')`), so a
screen added there shows here too, in the desk's language. When the line is too narrow
(80 columns in French), the role, then the program's name, then the user give way; when
the screens alone pass the width, each key also sticks to its screen's name."""

from __future__ import annotations

import re

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from relance.kernel.i18n import N_, _

_MODE_ACTION = re.compile(r"^switch_mode\('(\w+)'\)$")
ROLE_NAMES = {"credit_manager": N_("credit mgr"), "operator": N_("operator"),
              "auditor": N_("auditor")}


class ModeBar(Widget):
    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def screens(self) -> list[tuple[str, str, str]]:
        """(key, mode, title) of the application's screens, in key order."""
        found = []
        for binding in Binding.make_bindings(type(self.app).BINDINGS):
            match = _MODE_ACTION.match(binding.action)
            if match:
                found.append((binding.key, match.group(1), _(binding.description)))
        return sorted(found)

    def _modes(self, *, compact: bool) -> Text:
        modes = Text()
        for key, mode, label in self.screens():
            style = "bold reverse" if mode == self.current else ""
            modes.append(" ")
            modes.append(key, style="bold" if mode != self.current else style)
            modes.append(label if compact else f" {label}", style=style)
        return modes

    def render(self) -> Text:
        from relance.tui.app import RelanceApp

        width = self.size.width or 80
        modes = self._modes(compact=False)
        if len(modes.plain) > width:
            # Eight screens in French pass 80 columns: the bold key sticks to its name.
            modes = self._modes(compact=True)
        brand = Text(" relance ", style="bold reverse")  # not for people: the program's name
        app = self.app
        if not isinstance(app, RelanceApp):
            return brand + modes
        actor = app.ctx.actor
        role = _(ROLE_NAMES.get(actor.role.value, actor.role.value))
        for who, lead in ((f"{actor.name} ({role})", brand), (actor.name, brand),
                          (actor.name, Text()), ("", Text())):
            gap = width - len(lead.plain) - len(modes.plain) - len(who)
            if gap >= 1 or not who:
                break
        text = lead + modes
        if who and gap >= 1:
            text.append(" " * gap)
            text.append(who, style="italic")
        return text
