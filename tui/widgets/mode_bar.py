"""The top line: the six screens with their keys (the current one lit), and who is acting."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

SCREENS = (
    ("1", "queue", "Queue"),
    ("2", "escalations", "Escalations"),
    ("3", "calls", "Calls"),
    ("4", "case", "Case"),
    ("5", "dashboard", "Dashboard"),
    ("6", "suspense", "Suspense"),
)


class ModeBar(Widget):
    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def render(self) -> Text:
        from relance.tui.app import RelanceApp

        text = Text(" relance ", style="bold reverse")
        for key, mode, label in SCREENS:
            style = "bold reverse" if mode == self.current else ""
            text.append(" ")
            text.append(f"{key}", style="bold" if mode != self.current else style)
            text.append(f" {label}", style=style)
        app = self.app
        if isinstance(app, RelanceApp):
            actor = app.ctx.actor
            role = {"credit_manager": "credit mgr"}.get(actor.role.value, actor.role.value)
            who = f"{actor.name} ({role})"
            width = self.size.width or 80
            if width - len(text.plain) - len(who) < 1:
                who = actor.name
            gap = width - len(text.plain) - len(who)
            if gap >= 1:
                text.append(" " * gap)
                text.append(who, style="italic")
        return text
