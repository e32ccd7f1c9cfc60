"""What every screen shares: the context, and doing one change safely."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sqlalchemy.orm import Session
from textual.binding import ActiveBinding
from textual.screen import Screen

from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import _
from relance.tui.context import TuiContext
from relance.tui.screens.modals import Field, FormScreen, translated_bindings

if TYPE_CHECKING:
    from relance.tui.app import RelanceApp

T = TypeVar("T")


class DeskScreen(Screen[None]):
    """A screen of the operators' desk: reads through `ctx`, writes through `perform`."""

    # Reloaded by the app as soon as anything is committed, here or on another desk
    # (see `RelanceApp.follow_changes`): for screens cheap enough to read every second.
    LIVE: ClassVar[bool] = False

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        # The footer, the help screen and the palette read the keys here, translated.
        return translated_bindings(super().active_bindings)

    @property
    def desk(self) -> RelanceApp:
        from relance.tui.app import RelanceApp

        assert isinstance(self.app, RelanceApp)
        return self.app

    @property
    def ctx(self) -> TuiContext:
        return self.desk.ctx

    def perform(self, change: Callable[[Session], T], done: str | None = None) -> T | None:
        """Run one change and its events in one transaction. A refusal (a conflict with
        another operator, a role, bad input) is shown, nothing is written, and the screen
        reloads so the operator sees the current state."""
        try:
            with self.ctx.writing() as session:
                result = change(session)
        except RelanceError as exc:
            self.notify(exc.message, title=_("Not done"), severity="error", timeout=8)
            self.reload()
            return None
        if done:
            self.notify(done)
        self.reload()
        return result

    def may_write(self) -> bool:
        """False, with a message, for an auditor: spares them a form they cannot save."""
        actor = self.ctx.actor
        if actor.can_write:
            return True
        self.notify(_("{name} is an auditor: auditors see everything and change nothing")
                    .format(name=actor.name), severity="error")
        return False

    def ask(self, title: str, fields: list[Field], parse: Callable[[dict[str, str]], T],
            then: Callable[[T], object], *, writes: bool = True,
            form: type[FormScreen] = FormScreen) -> None:
        """Ask for `fields`; the form refuses answers that `parse` refuses (its message
        is shown under the fields), and `then` gets what `parse` made of the accepted
        ones. A form that `writes` is not even opened for an auditor. `form`: the dialog,
        a `FormScreen` or one of its kind (the creditor's, taller and scrolled)."""
        if writes and not self.may_write():
            return

        def check(answers: dict[str, str]) -> str | None:
            try:
                parse(answers)
            except UsageError as exc:
                return exc.message
            return None

        def done(answers: dict[str, str] | None) -> None:
            if answers is not None:
                then(parse(answers))

        self.app.push_screen(form(title, fields, check), done)

    def reload(self) -> None:
        """Read the screen's data again."""

    def follow_changes(self) -> None:
        """Something was committed since the screen was read: show it, leaving the
        cursor on the row it was on wherever that row still is."""
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()
