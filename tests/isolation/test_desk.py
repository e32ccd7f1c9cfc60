"""The desk under its pilot: anna (operator, ACME only) never sees BELLE's debtor, on
any screen, in any search, nor by opening its case directly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from relance.tui.screens.chooser import find_cases
from tests.isolation.workspace import SECRETS, build_agency, write_config
from tests.tui.conftest import settle
from tests.tui.test_dashboard import screen_text

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
SIZE = (120, 36)


def _desk(store: Store, folder: Path, user: str) -> RelanceApp:
    write_config(folder)
    workspace = Workspace(folder, load_config(folder / "relance.toml"), folder / "relance.toml")
    return RelanceApp(TuiContext.open(store, workspace, user, clock=lambda: NOW))


def _secrets(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def test_anna_sees_only_acme_on_every_screen(store: Store, tmp_path: Path) -> None:
    with store.transaction() as session:
        build_agency(session)
    app = _desk(store, tmp_path, "anna")
    shown: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown["queue"] = screen_text(app)
        # Every state, so that the approved and uncertain work is read too.
        for key, name in (("2", "escalations"), ("3", "calls"), ("7", "cases"),
                          ("5", "dashboard"), ("6", "suspense"), ("8", "creditors")):
            await pilot.press(key)
            await settle(pilot)
            shown[name] = screen_text(app)
        # BELLE's debtor opened by its id (a stale link, a typed number): no case.
        app.open_case(_zeph_id(store))
        await settle(pilot)
        shown["case"] = screen_text(app)
        await pilot.press("ctrl+p")
        await pilot.press(*"Zephyrine")
        await pilot.pause(0.3)
        await settle(pilot)
        shown["palette"] = screen_text(app)
    # What anna typed in the palette is on the screen, not what it would have found.
    shown["palette"] = shown["palette"].replace("Zephyrine", "")
    leaks = {name: _secrets(text) for name, text in shown.items() if _secrets(text)}
    assert not leaks, leaks
    assert "Alpha Coiffure" in shown["queue"] + shown["escalations"] + shown["calls"]
    assert "Alpha Coiffure" in shown["cases"]
    with store.session() as session:
        assert find_cases(session, "ZQ-901", creditor_ids=app.ctx.creditor_ids) == []
        assert find_cases(session, "Zeph", creditor_ids=app.ctx.creditor_ids) == []
        # What the scope hides is there for a user who sees every creditor.
        assert [m.ref for m in find_cases(session, "Zeph")] == ["B-777"]


async def test_alice_sees_both_creditors(store: Store, tmp_path: Path) -> None:
    with store.transaction() as session:
        build_agency(session)
    app = _desk(store, tmp_path, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = screen_text(app)
        await pilot.press("ctrl+p")
        await pilot.press(*"Zephyrine")
        await pilot.pause(0.3)
        await settle(pilot)
        palette = screen_text(app)
    assert "Zephyrine" in queue and "Alpha Coiffure" in queue
    assert "B-777" in palette  # the palette's search finds it for her


def _zeph_id(store: Store) -> int:
    from sqlalchemy import select

    from relance.store.models import Debtor

    with store.session() as session:
        return int(session.scalar(select(Debtor.id).where(Debtor.ref == "B-777")) or 0)
