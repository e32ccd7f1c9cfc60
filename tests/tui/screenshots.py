"""Write the SVG screenshots of docs/tui.md (run by hand after a visible change):

    .venv/bin/python -m tests.tui.screenshots

The demo portfolio (`relance demo --on 2026-11-20`, then `relance run` the same day)
is shown at 80x24 as the user `alice`, in French; the escalations screen uses the small test book,
since the demo's first run proposes none.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from relance.cli import main as relance
from relance.kernel.workspace import Workspace, find_workspace, load_config
from relance.store.db import Store, open_store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from tests.casework.factory import build_book
from tests.tui.conftest import CONFIG, settle

DOCS = Path(__file__).resolve().parents[2] / "docs" / "img"
DAY = "2026-11-20"
CLOCK = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def _cli(*args: str) -> None:
    try:
        relance(list(args))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


async def _shoot(store: Store, workspace: Workspace, shots: Sequence[tuple[str, list[str]]]
                 ) -> None:
    for name, keys in shots:
        app = RelanceApp(TuiContext.open(store, workspace, "alice", clock=lambda: CLOCK))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press(*keys)
            await settle(pilot)
            app.save_screenshot(filename=f"tui-{name}.svg", path=str(DOCS))
        print(f"wrote {DOCS / f'tui-{name}.svg'}")


def main() -> None:
    os.environ.pop("RELANCE_DATABASE_URL", None)
    # The docs show the desk as its users see it first: in French.
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        os.environ.pop(variable, None)
    os.environ["LANG"] = "fr_FR.UTF-8"
    DOCS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        _cli("demo", str(demo), "--on", DAY)
        _cli("-w", str(demo), "run", "--on", DAY)
        workspace = find_workspace(demo)
        store = open_store(workspace.database_url())
        asyncio.run(_shoot(store, workspace, [
            ("queue", []),
            ("preview", ["enter"]),
            ("filter", ["f"]),
            ("calls", ["3"]),
            ("case", ["3", "c"]),
            ("case-history", ["3", "c", "h"]),
            ("dashboard", ["5"]),
            ("dashboard-trends", ["5", "t"]),
            ("help", ["5", "question_mark"]),
            ("palette", ["ctrl+p"]),
            ("cases", ["7"]),
        ]))
        store.dispose()
        book = Path(tmp) / "book"
        book.mkdir()
        (book / "relance.toml").write_text(CONFIG, encoding="utf-8")
        small = open_store(f"sqlite:///{book / 'relance.sqlite'}")
        with small.transaction() as session:
            build_book(session)
        workspace = Workspace(book, load_config(book / "relance.toml"), book / "relance.toml")
        asyncio.run(_shoot(small, workspace, [("escalations", ["2"])]))
        small.dispose()


if __name__ == "__main__":
    main()
