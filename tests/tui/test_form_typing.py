"""A form filled as fast as the operator types: keys that arrive before the focus has
moved to the next field still count (`5000⏎⏎⏎⏎` sets the first field and saves, as it
would typed slowly)."""

from __future__ import annotations

from textual import events
from textual.app import App

from relance.tui.screens.modals import Answers, Field, FormScreen

FIELDS = [Field("amount", "Amount"), Field("creditor", "Creditor"),
          Field("segment", "Segment"), Field("stage", "Stage")]


class FormApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Answers | None] = []

    def on_mount(self) -> None:
        self.push_screen(FormScreen("Filter", FIELDS), self.answers.append)


def _typed_at_once(app: App[None], keys: list[str]) -> None:
    """The keys queued together, as a terminal delivers a burst: no pause between."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_enters_typed_in_a_burst_reach_the_save() -> None:
    app = FormApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        _typed_at_once(app, ["5", "0", "0", "0", *["enter"] * len(FIELDS)])
        for _ in range(10):
            await pilot.pause()
        assert app.answers == [{"amount": "5000", "creditor": "", "segment": "",
                                "stage": ""}]


async def test_a_field_chosen_by_hand_goes_on_from_there() -> None:
    app = FormApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("tab", "tab", *"key", "enter")  # to the segment, then on
        await pilot.press("enter")
        assert app.answers == [{"amount": "", "creditor": "", "segment": "key",
                                "stage": ""}]
