"""A new user's first minutes: `relance demo`, then the desk opens on the demo data and
every screen is reached from its key and from the command palette."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from relance.cli import main
from relance.kernel.workspace import find_workspace
from relance.store.db import open_store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from tests.tui.conftest import settle
from tests.tui.test_dashboard import screen_text

# Builds the whole demo (some 300 letters and e-mails) before opening the desk.
pytestmark = pytest.mark.slow

SCREENS = (("1", "Queue"), ("2", "Escalations"), ("3", "Calls"), ("4", "Case"),
           ("5", "Dashboard"), ("6", "Suspense"))


def _demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    folder = tmp_path / "demo"
    try:
        main(["demo", str(folder), "--on", "2026-11-20"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return folder


async def test_the_desk_opens_on_the_demo(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _demo(tmp_path, monkeypatch)
    workspace = find_workspace(folder)
    store = open_store(workspace.database_url())
    try:
        ctx = TuiContext.open(store, workspace, "demo-user",
                              clock=lambda: dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))
        app = RelanceApp(ctx)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for key, name in SCREENS:
                await pilot.press(key)
                await settle(pilot)
                assert type(app.screen).__name__ == f"{name}Screen"
                if name == "Case":
                    assert "Owes" in str(app.screen.query_one("#case-head").render())
                if name == "Dashboard":
                    # What the terminal shows: the aged balance ends with its DSO line.
                    assert "DSO" in screen_text(app)
            for _key, name in SCREENS:
                await pilot.press("ctrl+p")
                await pilot.pause()
                await pilot.press(*f"Go to {name}", "enter")
                await settle(pilot)
                assert type(app.screen).__name__ == f"{name}Screen"
    finally:
        store.dispose()


def test_an_unknown_user_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    (tmp_path / "relance.toml").write_text('[users]\nalice = "credit_manager"\n',
                                           encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["-w", str(tmp_path), "tui", "--user", "mallory"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "mallory" in err and "[users]" in err and "Traceback" not in err
