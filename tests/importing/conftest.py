"""Helpers for the import tests: writing small files and reading the book back."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from relance.store.db import Store, open_store
from relance.store.models import Debtor, Event, Invoice

CANONICAL = ["creditor", "debtor_ref", "debtor_name", "segment", "email", "phone", "country",
             "language", "payment_method", "sales_rep", "invoice_number", "issue_date",
             "due_date", "amount", "currency", "paid_amount"]


def row(number: str, *, ref: str = "F-1", name: str = "Salon Lyon", amount: str = "100.00",
        issue: str = "2026-09-01", due: str = "2026-10-01", paid: str = "0",
        currency: str = "EUR", email: str = "lyon@example.fr", **extra: str) -> dict[str, str]:
    values = {"creditor": "JCDA", "debtor_ref": ref, "debtor_name": name,
              "segment": "franchisee", "email": email, "phone": "+33478000001",
              "country": "FR", "language": "fr", "payment_method": "transfer",
              "sales_rep": "alice", "invoice_number": number, "issue_date": issue,
              "due_date": due, "amount": amount, "currency": currency, "paid_amount": paid}
    values.update(extra)
    return values


def write_csv(path: Path, rows: list[dict[str, str]], *, delimiter: str = ",") -> Path:
    columns = list(rows[0]) if rows else CANONICAL
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def invoices(store: Store) -> dict[str, dict[str, Any]]:
    """The book's invoices by number, as plain dicts."""
    with store.transaction() as session:
        return {row.number: dict(row._mapping) for row in session.execute(
            select(Invoice.__table__))}


def book_size(store: Store) -> tuple[int, int, int]:
    """(invoices, debtors, events)."""
    with store.transaction() as session:
        return (session.execute(select(func.count()).select_from(Invoice)).scalar_one(),
                session.execute(select(func.count()).select_from(Debtor)).scalar_one(),
                session.execute(select(func.count()).select_from(Event)).scalar_one())


@pytest.fixture
def second_store(request: pytest.FixtureRequest, db_url: tuple[str, str | None],
                 tmp_path: Path) -> Iterator[Store]:
    """Another fresh book on the same database as `store`: a file imported two ways is
    compared book against book."""
    _url, schema = db_url
    if schema is not None:
        yield request.getfixturevalue("pg_store")
        return
    opened = open_store(f"sqlite:///{tmp_path / 'second.sqlite'}")
    yield opened
    opened.dispose()
