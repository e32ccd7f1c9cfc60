"""Reading what operators type: invoice lists with optional amounts, schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from relance.kernel.errors import UsageError
from relance.store.models import Invoice
from relance.tui import entry


def invoice(number: str, id_: int) -> Invoice:
    return Invoice(id=id_, number=number, currency="EUR", balance_minor=100_000)


INVOICES = [invoice("FA-1", 1), invoice("FA-2", 2), invoice("2026-7", 7)]


@pytest.mark.parametrize(("text", "items"), [
    ("FA-1, FA-2", ["FA-1", "FA-2"]),
    ("FA-1,FA-2;FA-3", ["FA-1", "FA-2", "FA-3"]),
    ("FA-1:500,50, FA-2:1 234,56", ["FA-1:500,50", "FA-2:1 234,56"]),
    ("30/11/2026:1230,40, 31/12/2026:1000", ["30/11/2026:1230,40", "31/12/2026:1000"]),
    ("  ", []),
])
def test_items_keep_decimal_commas(text: str, items: list[str]) -> None:
    assert entry.items(text) == items


def test_named_invoices_in_order_with_amounts() -> None:
    named = entry.named_invoices("FA-2, 2026-7", INVOICES)
    assert [(i.id, amount) for i, amount in named] == [(2, ""), (7, "")]
    assert entry.amounts(named, "EUR") is None
    named = entry.named_invoices("FA-1:500,50, FA-2:80", INVOICES)
    assert entry.amounts(named, "EUR") == [(1, 50_050), (2, 8_000)]


@pytest.mark.parametrize(("text", "message"), [
    ("FA-9", "No invoice FA-9 among this debtor's invoices."),
    ("FA-1, FA-1", "FA-1 is named twice."),
    ("FA-1:500, FA-2", "Give an amount for every invoice, or for none"),
])
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        entry.amounts(entry.named_invoices(text, INVOICES), "EUR")


def test_schedules_counts_and_periods() -> None:
    assert entry.schedule("30/11/2026:1230,40, 2026-12-31:1000", "EUR") == [
        (dt.date(2026, 11, 30), 123_040), (dt.date(2026, 12, 31), 100_000)]
    with pytest.raises(UsageError, match="write date:amount"):
        entry.schedule("30/11/2026", "EUR")
    assert entry.count("3", "Instalments") == 3
    with pytest.raises(UsageError, match="a whole number"):
        entry.count("trois", "Instalments")
    assert entry.every("").unit == "m"
    with pytest.raises(UsageError, match="15d, 2w, 1m"):
        entry.every("3x")
