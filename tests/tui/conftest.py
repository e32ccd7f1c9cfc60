"""A desk on a small, fixed book (SQLite), opened as a given user on a fixed day."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store, open_store
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from tests.casework.factory import DESK_USERS, Book, build_book
from tests.conftest import PG_URL, PostgresSchemas

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
CONFIG = DESK_USERS

MakeApp = Callable[[str], RelanceApp]


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the screens' background reads (the dashboard) and the next frame.

    A text field's cursor stops blinking, shown: a snapshot taken half a second later on a
    busy machine would otherwise catch it hidden."""
    await pilot.app.workers.wait_for_complete()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests (Pilot drives the app in an event loop) without a plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def desk_db(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both: `parametrize("desk_db", [...], indirect=True)`."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def desk_store(tmp_path: Path, desk_db: str, request: pytest.FixtureRequest
               ) -> Iterator[tuple[Store, Book, Workspace]]:
    (tmp_path / "relance.toml").write_text(CONFIG, encoding="utf-8")
    workspace = Workspace(tmp_path, load_config(tmp_path / "relance.toml"),
                          tmp_path / "relance.toml")
    schemas: PostgresSchemas | None = None
    schema = None
    if desk_db == "postgresql":
        schemas = request.getfixturevalue("pg_schemas")
        schema = schemas.create()
        store = open_store(PG_URL, schema=schema)
    else:
        store = open_store(f"sqlite:///{tmp_path / 'relance.sqlite'}")
    with store.transaction() as session:
        book = build_book(session)
    try:
        yield store, book, workspace
    finally:
        store.dispose()
        if schemas is not None and schema is not None:
            schemas.drop(schema)


@pytest.fixture
def make_app(desk_store: tuple[Store, Book, Workspace]) -> MakeApp:
    store, _book, workspace = desk_store

    def make(user: str) -> RelanceApp:
        return RelanceApp(TuiContext.open(store, workspace, user, clock=lambda: NOW))

    return make


@pytest.fixture
def store(desk_store: tuple[Store, Book, Workspace]) -> Store:
    return desk_store[0]


@pytest.fixture
def book(desk_store: tuple[Store, Book, Workspace]) -> Book:
    return desk_store[1]
