"""The long lists (escalations, calls, cases) on the real app: search as one types,
filters, sort on any column, counts and totals of what is shown, the paging keys, and
columns that use the terminal's width."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from relance.kernel.i18n import using_language
from relance.store.db import Store
from relance.store.models import Channel, Creditor, Run, Stage
from relance.tui.app import RelanceApp
from relance.tui.widgets.lazy_table import LazyTable
from tests.casework.factory import Book, add_action, add_debtor, add_invoice
from tests.tui.conftest import MakeApp, settle

SMALL = (80, 24)
LARGE = (120, 40)
LONG_NAME = "Institut de Beauté des Quais de Saône — Confluence"


def crowd_escalations(store: Store, book: Book, count: int = 96) -> None:
    """`count` more escalation proposals, all under the four-eyes threshold (5,000 EUR),
    every tenth in CHF; the book's own Lille proposal (7,200.00 EUR) is the one above."""
    with store.transaction() as session:
        creditor = session.get(Creditor, book.creditor_id)
        run = session.get(Run, book.run_id)
        assert creditor is not None and run is not None
        for n in range(count):
            name = LONG_NAME if n == 0 else f"Salon {n:03d} Marseille"
            debtor = add_debtor(session, creditor, f"E-{n:03d}", name, segment="smb")
            currency = "CHF" if n % 10 == 0 else "EUR"
            invoice = add_invoice(session, debtor, f"FE-{n:03d}", 10_000 + n * 4_000,
                                  dt.date(2026, 6, 1), currency=currency)
            add_action(session, run, debtor, [invoice], Channel.ESCALATE,
                       rule="escalate amicable", policy="recovery", template=None,
                       target_stage=Stage.LITIGATION if n % 3 == 0 else Stage.AMICABLE)


def table(app: RelanceApp) -> LazyTable[object]:
    return app.screen.query_one(".list-table", LazyTable)


def bar(app: RelanceApp) -> str:
    return str(app.screen.query_one(".list-bar", Static).render())


def names(app: RelanceApp, count: int) -> list[str]:
    shown = table(app)
    return [shown.texts_of(i)[0] for i in range(min(count, shown.row_count))]


async def open_escalations(pilot: Pilot[None]) -> None:
    await pilot.press("2")
    await settle(pilot)


@pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)
async def test_an_escalation_above_the_threshold_is_a_filter_away(
        make_app: MakeApp, store: Store, book: Book) -> None:
    crowd_escalations(store, book)
    app = make_app("alice")
    async with app.run_test(size=SMALL) as pilot:
        await open_escalations(pilot)
        assert table(app).row_count == 97
        # 10 in CHF (100.00 + 140.00 + ... + 3,700.00), 87 in EUR with Lille's 7,200.00.
        assert bar(app) == "97 escalations shown of 97 · CHF19,000.00 · €180,200.00"
        # The filter form: the amount comes first, Enter through the other fields.
        await pilot.press("f", *"5000", "enter", "enter", "enter", "enter", "enter")
        await settle(pilot)
        assert table(app).row_count == 1
        assert table(app).current.debtor_ref == "F-0003"  # type: ignore[attr-defined]
        assert bar(app) == "1 escalation shown of 97 · €7,200.00 · ≥ 5,000.00"
        # Or typed in the search: three keys and a figure.
        await pilot.press("x", "slash", *">=5000", "enter")
        await settle(pilot)
        assert table(app).row_count == 1
        assert table(app).current.debtor_ref == "F-0003"  # type: ignore[attr-defined]


async def test_search_narrows_as_one_types(make_app: MakeApp, store: Store,
                                           book: Book) -> None:
    crowd_escalations(store, book)
    app = make_app("alice")
    async with app.run_test(size=SMALL) as pilot:
        await open_escalations(pilot)
        await pilot.press("slash")
        counts = []
        for key in "Salon 0":
            await pilot.press("space" if key == " " else key)
            await pilot.pause()
            counts.append(table(app).row_count)
        # "S", "Sa", "Sal"... "Salon 0": Lille's "Salon Lille" drops out at the space,
        # then only the 000-099 Marseille salons are left.
        assert counts[0] == 97 and counts[-1] == 95
        assert counts == sorted(counts, reverse=True)
        await pilot.press(*"42", "enter")
        await pilot.pause()
        assert names(app, 2) == ["Salon 042 Marseille"]
        assert "“Salon 042”" in bar(app)
        await pilot.press("x")
        await pilot.pause()
        assert table(app).row_count == 97


async def test_a_search_matching_nothing_says_so(make_app: MakeApp, store: Store,
                                                book: Book) -> None:
    crowd_escalations(store, book)
    app = make_app("alice")
    async with app.run_test(size=SMALL) as pilot:
        await open_escalations(pilot)
        await pilot.press("slash", *"zzq", "enter")
        await settle(pilot)
        assert table(app).row_count == 0
        prefix = app.screen.ID_PREFIX  # type: ignore[attr-defined]
        panel = str(app.screen.query_one(f"#{prefix}-detail", Static).render())
        # Not "no escalation waiting", which would send the operator away.
        assert panel.startswith("Nothing matches") and "zzq" in panel
        assert "x clears" in panel
        await pilot.press("x")
        await settle(pilot)
        assert table(app).row_count == 97


async def test_filters_by_stage_and_operator(make_app: MakeApp, store: Store,
                                             book: Book) -> None:
    crowd_escalations(store, book)
    app = make_app("alice")
    async with app.run_test(size=SMALL) as pilot:
        await open_escalations(pilot)
        # amount, creditor, segment, stage, operator
        await pilot.press("f", "enter", "enter", *"smb", "enter", *"litigation", "enter",
                          "enter")
        await settle(pilot)
        assert table(app).row_count == 32  # n % 3 == 0 for n in 0..95
        assert "stage=litigation" in bar(app)
        await pilot.press("f", "enter", "enter", "enter", "enter", *"nobody", "enter")
        await settle(pilot)
        assert table(app).row_count == 0
        assert "Nothing" in str(app.screen.query_one("#esc-detail", Static).render()) \
            or table(app).current is None


async def test_sort_on_any_column(make_app: MakeApp, store: Store, book: Book) -> None:
    crowd_escalations(store, book, count=12)
    app = make_app("alice")
    async with app.run_test(size=LARGE) as pilot:
        await open_escalations(pilot)
        await pilot.press("s")  # the first column: the debtor's name, A to Z
        await pilot.pause()
        first = names(app, 13)
        assert first == sorted(first)
        assert "Debtor ▲" in table(app).heading_text()
        await pilot.press("S")  # the other way
        await pilot.pause()
        assert names(app, 13) == sorted(first, reverse=True)
        assert "Debtor ▼" in table(app).heading_text()
        for _ in range(3):  # Ref., Cred., To, then the amount (largest first)
            await pilot.press("s")
        await pilot.press("s")
        await pilot.pause()
        assert "Amount ▼" in table(app).heading_text()
        amounts = [table(app).row(i).amount_minor  # type: ignore[attr-defined]
                   for i in range(table(app).row_count)]
        assert amounts == sorted(amounts, reverse=True)


async def test_paging_keys(make_app: MakeApp, store: Store, book: Book) -> None:
    crowd_escalations(store, book)
    app = make_app("alice")
    async with app.run_test(size=SMALL) as pilot:
        await open_escalations(pilot)
        shown = table(app)
        await pilot.press("end")
        assert shown.cursor == 96
        await pilot.press("home")
        assert shown.cursor == 0
        await pilot.press("pagedown")
        step = shown.cursor
        assert step > 5
        await pilot.press("pagedown", "pageup")
        assert shown.cursor == step


@pytest.mark.parametrize(("size", "whole"), [(SMALL, False), (LARGE, True)])
async def test_columns_use_the_width(make_app: MakeApp, store: Store, book: Book,
                                     size: tuple[int, int], whole: bool) -> None:
    crowd_escalations(store, book, count=3)
    app = make_app("alice")
    async with app.run_test(size=size) as pilot:
        await open_escalations(pilot)
        await pilot.press("slash", *"Confluence", "enter")
        await pilot.pause()
        line = table(app).render_line(1).text
        assert (LONG_NAME in line) is whole
        assert len(line.rstrip()) > size[0] - 12  # the row reaches across the screen
        if not whole:
            assert "Institut de Beauté" in line and "…" in line


async def test_cases_list_opens_a_case(make_app: MakeApp, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("7")
        await settle(pilot)
        assert bar(app).startswith("3 cases shown of 3 · €12,330.90")
        await pilot.press("s", "s", "s", "s")  # debtor, ref., stage, then the balance
        await pilot.pause()
        assert names(app, 1) == ["Salon Lille Centre"]
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "CaseScreen"
        assert app.case_debtor_id == book.debtors["F-0003"]


async def test_calls_list_counts_and_totals(make_app: MakeApp) -> None:
    app = make_app("bruno")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert bar(app) == "1 call shown of 1 · €2,400.50"
        await pilot.press("slash", *"nobody", "enter")
        await pilot.pause()
        assert bar(app) == "0 calls shown of 1 · “nobody”"


async def test_the_lists_speak_french(make_app: MakeApp, store: Store, book: Book,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    crowd_escalations(store, book, count=3)
    monkeypatch.setenv("LANGUAGE", "fr")  # the desk takes it from the environment
    with using_language("en"):  # and speaks it until this block ends
        app = make_app("alice")
        async with app.run_test(size=SMALL) as pilot:
            await open_escalations(pilot)
            text = bar(app)
            assert text.startswith("4 escalades affichées sur 4 · ")
            assert any("7\u202f200,00\u00a0€" in cells
                       for cells in table(app).texts().values())
            assert "Débiteur" in table(app).heading_text()
            await pilot.press("f", *"5000", "enter", "enter", "enter", "enter", "enter")
            await settle(pilot)
            assert bar(app).startswith("1 escalade affichée sur 4 · ")
