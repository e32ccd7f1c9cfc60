"""Small dialogs: a form of a few fields (a reason, a date and an amount...), a yes/no
question, and a scrollable text preview. Each returns its answer through `dismiss`.

Also what makes every screen's keys speak the desk's language: the descriptions of
bindings are class attributes, written in English (`N_`) when the module is imported;
`translated_bindings` puts them through `_()` each time the footer, the help screen
or the command palette reads them, so one process can show both languages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from relance.kernel.i18n import N_, _

ResultT = TypeVar("ResultT")

# Textual's own key descriptions, marked here so that the catalogs translate them too.
TEXTUAL_DESCRIPTIONS = (N_("palette"), N_("Quit"))


def translated(binding: Binding) -> Binding:
    """`binding` with its description, tooltip and group's name in the desk's language."""
    group = binding.group
    if group is not None and group.description:
        group = dataclasses.replace(group, description=_(group.description))
    return dataclasses.replace(
        binding, description=_(binding.description) if binding.description else "",
        tooltip=_(binding.tooltip) if binding.tooltip else "", group=group)


def translated_bindings(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    return {key: ActiveBinding(active.node, translated(active.binding), active.enabled,
                               _(active.tooltip) if active.tooltip else "")
            for key, active in bindings.items()}


class DeskModal(ModalScreen[ResultT]):
    """A dialog of the desk: its keys read in the desk's language."""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return translated_bindings(super().active_bindings)


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # already in the desk's language: the form shows it as given
    value: str = ""
    placeholder: str = ""


Answers = dict[str, str]


class FormScreen(DeskModal[Answers | None]):
    """A few labelled inputs; Enter goes to the next one and submits on the last,
    Escape cancels. `check` may refuse the answers with a message, keeping the form open."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical {
        width: 64; height: auto; max-height: 22; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    FormScreen .title { text-style: bold; margin-bottom: 1; }
    FormScreen Label { color: $text-muted; }
    FormScreen Input { margin-bottom: 0; }
    FormScreen .error { color: $text-error; height: auto; }
    FormScreen .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, title: str, fields: list[Field],
                 check: Callable[[Answers], str | None] | None = None,
                 hint: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.check = check
        self.hint = hint if hint is not None else _("Enter: next / save · Esc: cancel")
        # Focus moves after the keys already on their way: an Enter pressed before it
        # has reached the next field arrives at the field before, and must go on from
        # where the last Enter sent it (`_aim`), not stop there.
        self._aim = 0
        self._moving: Input | None = None  # where Enter sent the focus, until it lands

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            for field in self.fields:
                yield Label(field.label)
                yield Input(value=field.value, placeholder=field.placeholder,
                            id=f"field-{field.name}", compact=True)
            yield Static("", classes="error", id="form-error")
            yield Static(self.hint, classes="hint")

    def answers(self) -> Answers:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value.strip()
                for f in self.fields}

    @on(events.DescendantFocus)
    def _landed(self, event: events.DescendantFocus) -> None:
        if not isinstance(event.widget, Input):
            return
        if event.widget is self._moving:
            self._moving = None
        elif self._moving is None:  # the operator chose a field (Tab, a click)
            self._aim = list(self.query(Input)).index(event.widget)

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        position = inputs.index(event.input)
        if self._moving is not None:
            position = max(position, self._aim)
        if position + 1 < len(inputs):
            self._aim = position + 1
            self._moving = inputs[position + 1]
            self.set_focus(self._moving)  # now, not after the keys queued behind
            return
        answers = self.answers()
        problem = self.check(answers) if self.check else None
        if problem:
            self.query_one("#form-error", Static).update(problem)
            return
        self.dismiss(answers)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(DeskModal[bool]):
    """A yes/no question: y or Enter says yes, n or Escape says no (o/n in French)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 60; height: auto; padding: 1 2; border: thick $warning; background: $surface;
    }
    ConfirmScreen .hint { color: $text-muted; margin-top: 1; }
    """
    # `o` (oui) says yes too: a French operator's finger goes there.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,o,enter", "answer(True)", N_("Yes")),
        Binding("n,escape", "answer(False)", N_("No")),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Static(_("y: yes · n: no"), classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(DeskModal[None]):
    """A read-only text (the preview of a letter, an e-mail, an SMS), with extra keys."""

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > Vertical {
        width: 90%; height: 90%; border: thick $accent; background: $surface;
    }
    TextScreen .title { text-style: bold; padding: 0 1; background: $accent 30%; }
    TextScreen VerticalScroll { padding: 0 1; }
    TextScreen .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", N_("Close")),
        Binding("o", "open_file", N_("Open PDF")),
    ]

    def __init__(self, title: str, body: str, *, open_file: Callable[[], str] | None = None
                 ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self._open_file = open_file

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            with VerticalScroll():
                yield Static(self.body, markup=False)
            hint = _("Esc: close · o: open the PDF") if self._open_file else _("Esc: close")
            yield Static(hint, classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open_file(self) -> None:
        if self._open_file is None:
            self.notify(_("No PDF for this action"), severity="warning")
            return
        self.notify(self._open_file())
