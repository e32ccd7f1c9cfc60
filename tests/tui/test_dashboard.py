"""The dashboard at 80x24: the aged balance of every currency with its DSO, today's
work and what needs a look all on one screen, amounts grouped and with their currency;
the trends a key away."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from sqlalchemy import select

from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Creditor, Debtor
from relance.tui.app import RelanceApp
from relance.tui.screens.dashboard import DashboardScreen
from tests.casework.factory import Book, add_invoice
from tests.tui.conftest import MakeApp, settle
from tests.tui.test_desk_help import french_app


def _with_francs(store: Store, book: Book) -> None:
    """A debtor of the book also owes 2 345.60 CHF, 40 days late."""
    with store.write_transaction() as session:
        lille = session.get(Debtor, book.debtors["F-0003"])
        assert lille is not None and session.get(Creditor, book.creditor_id) is not None
        add_invoice(session, lille, "FA-CHF", 234_560, dt.date(2026, 10, 11),
                    currency="CHF")


def screen_text(app: RelanceApp) -> str:
    """What the terminal shows, as plain text."""
    width = app.size.width
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def test_one_screen_holds_both_currencies_and_their_dso(
        make_app: MakeApp, store: Store, book: Book) -> None:
    _with_francs(store, book)
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        text = screen_text(app)
    lines = text.splitlines()
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
    # EUR owes the most: its column comes first; every total with its currency.
    assert "€12,330.90" in text  # 1 250.00 + 980.40 + 2 400.50 + 7 200.00 + 500.00
    assert "CHF2,345.60" in text
    dso = next(line for line in lines if line.strip().startswith("DSO"))
    assert dso.count("days") == 2
    assert "Today, 20/11/2026" in text
    assert "To look at: 0 failed, 0 uncertain sends" in text
    assert "Confirm sent" in lines[-1]


async def test_the_dashboard_in_french(desk_store: tuple[Store, Book, Workspace]) -> None:
    store, book, workspace = desk_store
    _with_francs(store, book)
    app = french_app(store, workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        text = screen_text(app)
    assert "12\u202f330,90\u00a0€" in text
    assert "2\u202f345,60\u00a0CHF" in text
    assert "Plus de 90 jours" in text and "jours" in text
    assert "Aujourd’hui, 20/11/2026" in text
    assert "Confirmer l’envoi" in text


async def test_trends_are_a_key_away_and_fit(make_app: MakeApp, store: Store,
                                             book: Book) -> None:
    _with_francs(store, book)
    app = make_app("alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert "By creditor" in screen_text(app)
        await pilot.press("v")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.trends is not None
        assert [trend.currency for trend in screen.trends] == ["EUR", "CHF"]
        text = screen_text(app)
        assert "Aged balance, thousands of EUR" in text
        assert "DSO, days (EUR)" in text
        # The footer offers the next currency, which only makes sense here.
        assert "m Currency" in text.splitlines()[-1]
        await pilot.press("m")
        await settle(pilot)
        assert "Aged balance, thousands of CHF" in screen_text(app)
        # Sends to act on are keys of the overview only.
        assert "Confirm sent" not in screen_text(app).splitlines()[-1]



async def test_client_funds_held_past_the_mandates_period_show_in_red(
        make_app: MakeApp, store: Store, book: Book) -> None:
    """The firm collected 300.00 € for its client 40 days ago and the mandate gives it
    30 days to remit (R124-6): the dashboard says so, with the command to look."""
    from relance.kernel.money import Money
    from relance.store import book as money_book
    from relance.store.models import Invoice, Mandate, MandateCase, MandateScope

    received = dt.date(2026, 10, 11)
    with store.write_transaction() as session:
        mandate = Mandate(creditor_id=book.creditor_id, reference="MDT-1",
                          signed_on=dt.date(2026, 9, 1), scope=MandateScope.AMICABLE,
                          fee_percent="10", starts_on=dt.date(2026, 9, 1))
        session.add(mandate)
        session.flush()
        session.add(MandateCase(mandate_id=mandate.id, creditor_id=book.creditor_id,
                                debtor_id=book.debtors["F-0003"], opened_on=received,
                                reference="MDT-1/0001"))
        invoice = session.scalars(select(Invoice).where(
            Invoice.debtor_id == book.debtors["F-0003"])).first()
        assert invoice is not None
        money_book.record_payment(
            session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0003"],
            amount=Money("EUR", 30_000), received_on=received, reference="VIR MDT-1/0001",
            actor="bruno", allocations=[(invoice.id, 30_000)], today=received)
    app = make_app("alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        text = screen_text(app)
    # The "Today" column, right of the aged balance, read as one paragraph.
    today = " ".join(line.partition("│")[2].strip() for line in text.splitlines()
                     if "│" in line)
    assert "Client funds to remit, overdue: €300.00 (1 payment, up to 10 days late: " \
        "relance funds)" in " ".join(today.split())
