"""The lists held in memory (`relance.tui.rowset`) stay exactly what the store says:
the orders kept between keys follow the rows replaced after a commit, and the counts
and totals kept between keys are worked out again when another desk pays or decides."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from textual.widgets import Static

from relance.engine.casework import Seen, approve
from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.store import book as money_book
from relance.store.db import Store
from relance.store.models import Action
from relance.tui.app import RelanceApp
from relance.tui.rowset import RowSet, Views
from relance.tui.screens.queue import QueueScreen
from tests.casework.factory import Book
from tests.tui.conftest import MakeApp, settle

RECEIVED = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class Line:
    key: int
    debtor: int
    name: str
    amount: int
    currency: str
    sent: dt.date | None


def lines(rng: random.Random, keys: range, debtors: int) -> list[Line]:
    return [Line(k, rng.randrange(debtors), rng.choice(["Ana", "Bob", "Céline", "dan"]),
                 rng.randrange(0, 500), rng.choice(["EUR", "EUR", "CHF"]),
                 rng.choice([None, dt.date(2026, 1, rng.randrange(1, 28))]))
            for k in keys]


def expected(rows: list[Line], column: str, descending: bool) -> list[int]:
    """The order as a fresh sort gives it: the column (a missing value last), then the
    key; descending is that order reversed."""
    def sort_key(row: Line) -> tuple[object, ...]:
        value = getattr(row, column)
        return (value is None, value, row.key)
    found = [r.key for r in sorted(rows, key=sort_key)]
    return found[::-1] if descending else found


def test_kept_orders_and_figures_follow_replaced_rows() -> None:
    rng = random.Random(14)
    rows = lines(rng, range(400), debtors=60)
    kept = RowSet(rows, key="key", group="debtor", searched=("name",), order=("-amount",),
                  tiebreak=("key",))
    views = Views(kept)
    for column in ("name", "amount", "sent"):
        kept.order(column)  # worked out before the change, then followed
    assert len(views.slots("all", list, "amount", False)) == 400
    for step in range(5):
        debtors = set(rng.sample(range(60), 6))
        fresh = lines(rng, range(1000 + step * 100, 1000 + step * 100 + 25), debtors=60)
        fresh = [r for r in fresh if r.debtor in debtors]
        rows = [r for r in rows if r.debtor not in debtors] + fresh
        kept.replace(debtors, fresh)
        for column in ("name", "amount", "sent"):
            for descending in (False, True):
                shown = [kept.row(s).key for s in views.slots("all", list, column,
                                                              descending)]
                assert shown == expected(rows, column, descending)
        # The list's own order: largest amount first, then the key.
        assert [kept.row(s).key for s in kept.order("")] == [
            r.key for r in sorted(rows, key=lambda r: (-r.amount, r.key))]
        _mask, count, totals = views.figures(
            ("bob", 100), lambda: [kept.matching("BO"), kept.at_least("amount", 100)])
        chosen = [r for r in rows if "bo" in r.name.lower() and r.amount >= 100]
        assert count == len(chosen)
        assert totals == {c: sum(r.amount for r in chosen if r.currency == c)
                          for c in {r.currency for r in chosen}}


@dataclass(frozen=True)
class Account:
    key: int
    debtor: int
    name: str
    numbers: str
    amount: int
    currency: str


def accounts(rng: random.Random, keys: range, debtors: int) -> list[Account]:
    def name() -> str:
        return "".join(rng.choice("abcé ") for _ in range(rng.randrange(3, 9)))
    return [Account(k, rng.randrange(debtors), name().title(),
                    "".join("\x1f" + rng.choice("Ff") + str(rng.randrange(50))
                            for _ in range(rng.randrange(0, 3))) + "\x1f",
                    rng.randrange(0, 500), rng.choice(["EUR", "CHF"]))
            for k in keys]


def test_a_search_typed_letter_by_letter_finds_what_a_fresh_look_finds() -> None:
    """Each letter typed narrows what the one before found, among few rows or many,
    in the name or in the invoice numbers, before and after rows change: the rows
    shown, their order and totals are those of a fresh look at every row."""
    rng = random.Random(18)
    rows = accounts(rng, range(3000), debtors=400)
    kept = RowSet(rows, key="key", group="debtor", searched=("name",), order=("name",),
                  tiebreak=("key",))
    views = Views(kept)
    for step in range(4):
        typed = rng.choice([r.name for r in rows])[:6] + rng.choice(["", "a", " "])
        for text in [typed[:n] for n in range(len(typed) + 1)] + ["F1", "F12", "f4"]:
            exact = [("numbers", "\x1f" + p) for p in dict.fromkeys((text, text.upper()))]
            def masks(text: str = text, exact: list[tuple[str, str]] = exact
                      ) -> list[bytearray]:
                return [kept.either(text, exact)]
            found = [kept.row(s).key for s in views.slots(text, masks, "amount", True)]
            chosen = [r for r in rows if text.lower() in r.name.lower()
                      or any(part in r.numbers for _name, part in exact)]
            assert found == expected_accounts(chosen), (step, text)
            _mask, count, totals = views.figures("every row", list)
            assert count == len(rows)
            assert totals == {c: sum(r.amount for r in rows if r.currency == c)
                              for c in {r.currency for r in rows}}
        debtors = set(rng.sample(range(400), 40))
        fresh = [r for r in accounts(rng, range(10_000 * (step + 1), 10_000 * (step + 1)
                                                + 300), debtors=400) if r.debtor in debtors]
        rows = [r for r in rows if r.debtor not in debtors] + fresh
        kept.replace(debtors, fresh)


def expected_accounts(rows: list[Account]) -> list[int]:
    """Largest amount first; among equal amounts, the larger key first (the reverse of
    amount then key)."""
    return [r.key for r in sorted(rows, key=lambda r: (r.amount, r.key), reverse=True)]


def bar(app: RelanceApp, prefix: str) -> str:
    return str(app.screen.query_one(f"#{prefix}-bar", Static).render())


@pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)
async def test_the_queue_counts_what_another_desk_paid_and_approved(
        make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        assert queue._memory is not None  # the keys work on the actions in memory
        await pilot.press("s", "s", "s")  # sorted by amount, largest first
        await settle(pilot)
        assert bar(app, "queue").startswith("2 actions shown of 2 · €4,630.90")
        assert [cells[0] for cells in queue.table.texts().values()] == [
            "Institut Nantes Graslin (F-0002)", "Body Salon Lyon Bellecour (F-0001)"]
        with store.write_transaction() as session:  # Lyon pays 300.00 at another desk
            money_book.record_payment(
                session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0001"],
                amount=Money("EUR", 30_000), received_on=RECEIVED, reference="VIR LYON",
                actor="alice", allocations=[(book.invoices["FA-1"], 30_000)],
                today=RECEIVED)
        app.follow_changes()
        await settle(pilot)
        assert bar(app, "queue").startswith("2 actions shown of 2 · €4,330.90")
        assert "€1,930.40" in queue.table.texts()[str(book.actions["letter"])]
        with store.write_transaction() as session:  # and alice approves Nantes's e-mail
            action = session.get(Action, book.actions["email"])
            assert action is not None
            approve(session, Actor("alice", Role.CREDIT_MANAGER), Seen.of(action))
        app.follow_changes()
        await settle(pilot)
        assert bar(app, "queue").startswith("1 action shown of 1 · €1,930.40")
        assert list(queue.table.texts()) == [str(book.actions["letter"])]


@pytest.mark.parametrize("desk_db", ["sqlite", "postgresql"], indirect=True)
async def test_an_escalation_paid_elsewhere_leaves_the_count_and_totals(
        make_app: MakeApp, store: Store, book: Book) -> None:
    app = make_app("bruno")
    async with app.run_test(size=(100, 24)) as pilot:
        app.switch_mode("escalations")
        await settle(pilot)
        await pilot.press("/", *"lille")  # a search kept between keys
        await settle(pilot)
        assert bar(app, "esc").startswith("1 escalation shown of 1 · €7,200.00")
        with store.write_transaction() as session:  # Lille pays FA-4 in full elsewhere
            money_book.record_payment(
                session, creditor_id=book.creditor_id, debtor_id=book.debtors["F-0003"],
                amount=Money("EUR", 720_000), received_on=RECEIVED, reference="VIR LILLE",
                actor="alice", allocations=[(book.invoices["FA-4"], 720_000)],
                today=RECEIVED)
        app.follow_changes()
        await settle(pilot)
        assert bar(app, "esc").startswith("0 escalations shown of 0")
