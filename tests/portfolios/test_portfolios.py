"""Collectors' portfolios: set by the import and by `relance portfolio assign`, listed by
`relance portfolio show`, and the desk's queue and call list opening on them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store, open_store
from relance.store.importing import import_invoices
from relance.store.models import Debtor, Event
from relance.tui.app import RelanceApp
from relance.tui.context import TuiContext
from tests.casework.factory import DESK_USERS, add_tui_debtor_in_every_channel, build_book
from tests.cli import run_cli
from tests.tui.conftest import settle
from tests.tui.test_dashboard import screen_text

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def _collectors(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        return {ref: who for ref, who in session.execute(select(Debtor.ref, Debtor.collector))}


@pytest.fixture
def desk(db_url: tuple[str, str | None], tmp_path: Path) -> Iterator[tuple[Store, str]]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    with store.transaction() as session:
        book = build_book(session)
        add_tui_debtor_in_every_channel(session, book)
    (tmp_path / "relance.toml").write_text(DESK_USERS, encoding="utf-8")
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield store, cli_url
    finally:
        store.dispose()


def test_assign_and_show_through_the_command_line(
        desk: tuple[Store, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, url = desk

    def run(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, "-w", str(tmp_path), "--db", url, *args)

    code, out, err = run("--user", "alice", "portfolio", "assign", "--user", "bruno",
                         "--debtor", "F-0002")
    assert code == 0, err
    assert "1 debtor put in the portfolio of bruno (1 chosen); it now holds 1." in out
    code, out, _ = run("--user", "alice", "portfolio", "assign", "--user", "bruno",
                       "--segment", "key_account")
    assert code == 0 and "it now holds 2" in out
    assert _collectors(store) == {"F-0001": None, "F-0002": "bruno", "F-0003": "bruno",
                                  "F-0009": None}
    with store.session() as session:
        kinds = list(session.scalars(select(Event.data).where(
            Event.kind == "portfolio.assigned").order_by(Event.id)))
    assert kinds == [{"collector": "bruno", "previous": None}] * 2
    code, out, _ = run("--user", "bruno", "portfolio", "show", "--json")
    assert code == 0
    assert [row["debtor_ref"] for row in json.loads(out)] == ["F-0002", "F-0003"]
    # Only a credit manager hands out work; an unknown collector is refused, as is a
    # call that names no debtor; nothing changes.
    code, _, err = run("--user", "bruno", "portfolio", "assign", "--user", "bruno",
                       "--debtor", "F-0001")
    assert code == 2 and "only a credit manager" in err
    code, _, err = run("--user", "alice", "portfolio", "assign", "--user", "mallory",
                       "--debtor", "F-0001")
    assert code == 2 and "mallory" in err
    code, _, err = run("--user", "alice", "portfolio", "assign", "--user", "bruno")
    assert code == 2 and "--debtor" in err
    assert _collectors(store)["F-0001"] is None
    code, out, _ = run("--user", "alice", "portfolio", "assign", "--nobody",
                       "--debtor", "F-0003")
    assert code == 0 and "1 debtor taken out of any portfolio" in out
    assert _collectors(store)["F-0003"] is None


def test_the_import_sets_and_clears_the_collector(store: Store, tmp_path: Path) -> None:
    header = ("creditor,debtor_ref,debtor_name,invoice_number,issue_date,due_date,amount,"
              "currency,collector\n")
    first = tmp_path / "first.csv"
    first.write_text(header + "JCDA,C-1,Salon Un,FX-1,2026-10-01,2026-10-31,10.00,EUR,bruno\n"
                     "JCDA,C-2,Salon Deux,FX-2,2026-10-01,2026-10-31,20.00,EUR,\n",
                     encoding="utf-8")
    import_invoices(store, first)
    assert _collectors(store) == {"C-1": "bruno", "C-2": None}
    again = tmp_path / "again.csv"
    again.write_text(header + "JCDA,C-1,Salon Un,FX-1,2026-10-01,2026-10-31,10.00,EUR,\n",
                     encoding="utf-8")
    import_invoices(store, again)
    assert _collectors(store)["C-1"] is None


def _app(store: Store, folder: Path, user: str) -> RelanceApp:
    workspace = Workspace(folder, load_config(folder / "relance.toml"), folder / "relance.toml")
    return RelanceApp(TuiContext.open(store, workspace, user, clock=lambda: NOW))


async def test_queue_and_calls_open_on_the_portfolio_and_m_shows_all(
        desk: tuple[Store, str], tmp_path: Path) -> None:
    store, _url = desk
    with store.write_transaction() as session:
        for debtor in session.scalars(select(Debtor).where(Debtor.ref == "F-0002")):
            debtor.collector = "bruno"
    app = _app(store, tmp_path, "bruno")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        mine = screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        everything = screen_text(app)
        # Kept through a refresh of the store (another operator's change).
        app.screen.follow_changes()  # type: ignore[attr-defined]
        await settle(pilot)
        refreshed = screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        calls_mine = screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        calls_all = screen_text(app)
    assert "Your portfolio: 1 debtor — press m to see all" in mine
    assert "Institut Nantes Graslin" in mine and "Body Salon Lyon" not in mine
    assert "All debtors — press m for your portfolio (1 debtor)" in everything
    assert "Body Salon Lyon" in everything and "Institut Nantes Graslin" in everything
    assert "All debtors" in refreshed and "Body Salon Lyon" in refreshed
    assert "Your portfolio: 1 debtor" in calls_mine
    assert "Institut Nantes Graslin" in calls_mine and "Spa Rennes" not in calls_mine
    assert "Spa Rennes" in calls_all and "Institut Nantes Graslin" in calls_all


async def test_without_a_portfolio_everything_is_shown(desk: tuple[Store, str],
                                                       tmp_path: Path) -> None:
    store, _url = desk
    app = _app(store, tmp_path, "bruno")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        notices = [str(n.message) for n in app._notifications]
    assert "portfolio" not in text
    assert "Body Salon Lyon" in text and "Institut Nantes Graslin" in text
    assert any("You have no portfolio" in notice for notice in notices)
