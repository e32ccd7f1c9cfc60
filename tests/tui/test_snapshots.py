"""The main screens at 80x24 on a fixed book and a fixed day (SVG snapshots).

Update after an intended change with `pytest tests/tui --snapshot-update`, then look at
the SVG files under `tests/tui/__snapshots__/`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import MakeApp, settle

SnapCompare = Callable[..., bool]


def _after(keys: list[str]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)
        await settle(pilot)

    return run


@pytest.mark.parametrize(("name", "keys"), [
    ("queue", []),
    ("queue_filter_form", ["f"]),
    ("escalations", ["2"]),
    ("calls", ["3"]),
    ("case", ["4"]),
    ("case_history", ["4", "h"]),
    ("dashboard", ["5"]),
])
def test_screen(snap_compare: SnapCompare, make_app: MakeApp, name: str,
                keys: list[str]) -> None:
    assert snap_compare(make_app("alice"), terminal_size=(80, 24), run_before=_after(keys))
