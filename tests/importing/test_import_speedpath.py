"""The column-by-column import stores the same book, and refuses the same files with the
same words, as the row-by-row reading and per-row inserts it replaced.

Each test imports one file twice, into two fresh books of the same database: once as
`relance import` does it now, once through the reference path (`read_row` for every row,
each invoice's values from `BookWriter._values` and SQLAlchemy's own INSERT), and
compares what was stored, reported or refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select

from bench.books import HEADER, book_rows
from relance.store.db import Store
from relance.store.importing import ImportRefused, columnar, import_invoices
from relance.store.importing import checking as checking_module
from relance.store.importing import rows as rows_module
from relance.store.importing.columnar import _AMOUNT_CELL, _AMOUNT_COLUMN, Outcome
from relance.store.importing.debtors import DebtorMerger
from relance.store.importing.rows import DebtorCache, Layout, Options, RowColumns, read_row
from relance.store.importing.writing import BookWriter, invoice_t
from relance.store.models import Creditor, Debtor, DebtorTag, Invoice, Promise

TODAY = dt.date(2026, 11, 22)
COLUMNS = [*HEADER, "address", "document_type", "promised_until", "paused_until",
           "is_consumer"]
# Stamped per batch now, per row before: when, not what.
NOT_COMPARED = {"id", "created_at", "updated_at", "debtor_id", "creditor_id", "invoice_id"}


def _reference_batch(lines: list[tuple[int, list[str]]], layout: Layout, options: Options,
                     cache: DebtorCache, _known: DebtorMerger,
                     _readers: columnar.ColumnReaders | None = None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for number, cells in lines:
        if not "".join(cells).strip():
            outcomes.append(None)
            continue
        row, errors = read_row(number, cells, layout, options, cache)
        outcomes.append(row if row is not None else errors)
    return outcomes


def _reference_insert(self: BookWriter, rows: RowColumns, now: dt.datetime,
                      _debtor_ids: list[int] | None = None) -> None:
    conn = self.conn
    conn.execute(insert(invoice_t), [
        {"creditor_id": self.creditor_ids[row.creditor], "number": row.number,
         "created_at": now, "updated_at": now, **self._values(row, None)}
        for row in rows.rows()])


def _odd_rows() -> list[dict[str, str]]:
    """Rows the fast checks leave to the reference, or read in their less usual forms."""
    base = {"creditor": "ODD", "debtor_ref": "C-1", "debtor_name": "Salon Nantes",
            "currency": "EUR", "issue_date": "2026-09-01", "due_date": "2026-10-01"}
    rows = [
        {"invoice_number": "O-1", "amount": "1.234,56", "paid_amount": "0"},
        {"invoice_number": "O-2", "amount": "1,234.56", "paid_amount": "1 000,00"},
        {"invoice_number": "O-3", "amount": "100", "paid_amount": "",
         "document_type": "avoir"},
        {"invoice_number": "O-4", "amount": "-50,00", "document_type": "credit_note",
         "paid_amount": "-10,00"},
        {"invoice_number": "O-5", "amount": "1500", "currency": "jpy", "paid_amount": "500"},
        {"invoice_number": "O-6", "amount": "1 234,567", "currency": "TND"},
        {"invoice_number": "  O-7 ", "amount": " 18\u202f900,00 ", "disputed": "Non",
         "address": "3 rue de la Paix\n44000 Nantes", "promised_until": "30/11/2026"},
        {"invoice_number": "O-8", "amount": "99.90", "disputed": "delivery late",
         "paused_until": "2026-12-31", "is_consumer": "oui", "tags": "VIP; sepa"},
        {"invoice_number": "O-9", "amount": "10.00", "debtor_ref": "C-2",
         "debtor_name": "Coiffure 2", "email": "deux@example.fr", "issue_date": "01/09/2026",
         "due_date": "2026-09-01 00:00:00", "region": "IDF"},
        {"invoice_number": "O-10", "amount": "20.00", "debtor_ref": "C-2",
         "email": "autre@example.fr", "segment": " smb "},
        {"invoice_number": "O-11", "amount": "0,50", "paid_amount": "0,50", "country": "be",
         "language": "NL"},
        {"invoice_number": "O-20", "amount": "250", "paid_amount": "100"},
    ]
    return [{**base, **row} for row in rows]


def _write(path: Path, rows: list[dict[str, str]], generated: int, *, seed: int = 3) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(COLUMNS)
        for index, cells in enumerate(book_rows(generated, seed=seed, on=TODAY,
                                                invoices_per_debtor=4)):
            out.writerow(cells + [""] * (len(COLUMNS) - len(HEADER)))
            if index == 40:
                out.writerow([])  # a blank line
                out.writerow([" "] * len(COLUMNS))  # and a row of blank cells
        for row in rows:
            out.writerow([row.get(name, "") for name in COLUMNS])
    return path


def _book(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every table an import writes, without ids and timestamps, in a stable order."""
    book: dict[str, list[tuple[Any, ...]]] = {}
    with store.transaction() as session:
        codes = dict(session.execute(select(Creditor.id, Creditor.code)).all())
        refs = dict(session.execute(select(Debtor.id, Debtor.ref)).all())
        numbers = dict(session.execute(select(Invoice.id, Invoice.number)).all())
        for model in (Creditor, Debtor, DebtorTag, Invoice, Promise):
            table = cast(Table, model.__table__)
            rows = []
            for stored in session.execute(select(table)):
                values = dict(stored._mapping)
                keys = (codes.get(values.get("creditor_id", 0)),
                        refs.get(values.get("debtor_id", 0)),
                        numbers.get(values.get("invoice_id", 0)))
                rows.append((keys, *(repr(value) for name, value in sorted(values.items())
                                     if name not in NOT_COMPARED)))
            book[table.name] = sorted(rows, key=repr)
    return book


def _both(store: Store, reference: Store, path: Path, monkeypatch: pytest.MonkeyPatch,
          ) -> tuple[Any, Any]:
    """Import `path` into `store` now, then into `reference` the old way."""
    fast = _outcome(store, path)
    with monkeypatch.context() as patch:
        patch.setattr(checking_module, "read_batch", _reference_batch)
        patch.setattr(BookWriter, "_insert", _reference_insert)
        slow = _outcome(reference, path)
    return fast, slow


def _outcome(store: Store, path: Path) -> Any:
    try:
        report = import_invoices(store, path, actor="test", today=TODAY)
    except ImportRefused as refused:
        return ("refused", refused.errors, refused.more)
    return {key: value for key, value in report.as_dict().items() if key != "sha256"}


def test_the_same_book_is_stored_and_updated(store: Store, second_store: Store, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checking_module, "BATCH_SIZE", 250)  # several batches, one odd
    first = _write(tmp_path / "first.csv", _odd_rows(), 900)
    fast, slow = _both(store, second_store, first, monkeypatch)
    assert fast == slow
    assert fast["created"] == 912 and fast["warnings"]  # C-2's two e-mails
    assert _book(store) == _book(second_store)
    # A re-import that changes amounts, payments, a dispute and a promise.
    changed = [{**row, "paid_amount": "10,00"} if row["invoice_number"] == "O-8" else row
               for row in _odd_rows()]
    changed.append({**changed[0], "invoice_number": "O-12", "amount": "5.00"})
    again = _write(tmp_path / "again.csv", changed, 950, seed=3)
    fast, slow = _both(store, second_store, again, monkeypatch)
    assert fast == slow
    assert fast["created"] == 51 and fast["updated"] >= 1
    assert _book(store) == _book(second_store)


def test_a_faulty_file_is_refused_in_the_same_words(store: Store, second_store: Store,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checking_module, "BATCH_SIZE", 100)
    good = _odd_rows()[0]
    faults = [
        {"amount": "12,500"}, {"amount": "-5,00"}, {"amount": "1O0,00"}, {"amount": ""},
        {"paid_amount": "2000,00"}, {"due_date": "2026-08-01"}, {"issue_date": "31/02/2026"},
        {"currency": "EURO"}, {"creditor": "../outbox"}, {"debtor_ref": "x" * 81},
        {"debtor_name": "Nul\x00"}, {"email": "a@b.fr, c@d.fr"}, {"document_type": "devis"},
        {"invoice_number": "O-1"}, {"country": "FRA"}, {"risk": "101"},
        {"promised_until": "demain"}, {"address": "esc \x1b[31m"},
    ]
    rows = [{**good, "invoice_number": f"F-{index}", **fault}
            for index, fault in enumerate(faults)]
    rows.insert(0, good)
    path = _write(tmp_path / "faulty.csv", rows, 300)
    fast, slow = _both(store, second_store, path, monkeypatch)
    assert fast[0] == "refused"
    assert fast == slow
    assert len(fast[1]) == len(faults)
    assert _book(store)["invoice"] == []


def test_amounts_the_fast_pattern_reads_are_those_the_old_pattern_read() -> None:
    # The column pattern was rewritten to never backtrack; the amounts it vouches for
    # (then read by deleting the marks) must be exactly those of the plain pattern.
    plain = r"(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)[.,][0-9]{2}"
    cell, column = re.compile(plain), re.compile(rf"(?:{plain}\n)*{plain}")
    draw = random.Random(17)
    digits = "0123456789"
    accepted = 0
    for _case in range(20_000):
        groups = ["".join(draw.choice(digits) for _ in range(draw.randint(0, 5)))
                  for _group in range(draw.randint(1, 4))]
        text = "".join(group + draw.choice([" ", "\u00a0", "\u202f", "", "."])
                       for group in groups[:-1]) + groups[-1] + draw.choice([".", ",", ""]) \
            + "".join(draw.choice(digits) for _ in range(draw.randint(0, 3)))
        expected = cell.fullmatch(text) is not None
        accepted += expected
        assert (_AMOUNT_CELL.fullmatch(text) is not None) is expected, repr(text)
        joined = f"1 234,56\n{text}\n12.00"
        assert (_AMOUNT_COLUMN.fullmatch(joined) is not None) is \
            (column.fullmatch(joined) is not None), repr(joined)
    assert accepted > 500  # the draw does reach the accepted forms


def test_an_import_leaves_the_collector_as_it_found_it(store: Store, tmp_path: Path) -> None:
    # Imports make collections rarer while they run, for the whole process: the
    # thresholds must come back, after a refused file too.
    before = gc.get_threshold()
    good = _write(tmp_path / "good.csv", [], 30)
    import_invoices(store, good, actor="test", today=TODAY)
    assert gc.get_threshold() == before
    bad = _write(tmp_path / "bad.csv", [{**_odd_rows()[0], "amount": "douze"}], 30, seed=5)
    with pytest.raises(ImportRefused):
        import_invoices(store, bad, actor="test", today=TODAY)
    assert gc.get_threshold() == before


def _uncached_batch(lines: list[tuple[int, list[str]]], layout: Layout, options: Options,
                    _cache: DebtorCache, _known: DebtorMerger,
                    _readers: columnar.ColumnReaders | None = None) -> list[Outcome]:
    """The reference reading every row's debtor cells afresh, with no cache at all."""
    outcomes: list[Outcome] = []
    for number, cells in lines:
        row, errors = read_row(number, cells, layout, options, None)
        outcomes.append(row if row is not None else errors)
    return outcomes


def test_debtors_coming_back_after_many_others_are_read_once(
        store: Store, second_store: Store, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that goes through its debtors in turn, each coming back only after many
    batches of others, has each debtor's cells read once (a cache of sets of cells,
    bounded, read them again at every row past its size: a tenth of a ten-million-row
    import), and stores, and warns of, what reading every row's cells afresh does."""
    monkeypatch.setattr(checking_module, "BATCH_SIZE", 45)
    # The cache of the rows read one by one holds five sets here; each debtor comes back
    # after a hundred others.
    monkeypatch.setattr(rows_module, "DEBTOR_CACHE_SIZE", 5)
    rows = []
    for round_ in range(3):
        for k in range(120):  # each debtor again only after five batches of others
            email = f"d{k}@example.fr" if (round_, k) != (2, 7) else "other@example.fr"
            for part in "ab":  # two rows in a row, now and then across two batches
                rows.append({"creditor": "MANY", "debtor_ref": f"D-{k}",
                             "debtor_name": f"Debtor {k}", "email": email, "currency": "EUR",
                             "issue_date": "2026-09-01", "due_date": "2026-10-01",
                             "invoice_number": f"I-{round_}-{k}{part}", "amount": "100.00",
                             "tags": "vip" if k % 3 == 0 else ""})
    path = _write(tmp_path / "many.csv", rows, 0)
    reads: Counter[str] = Counter()
    read_cell = rows_module.debtor_cell

    def counted(column: str, text: str, options: Options) -> tuple[Any, str | None]:
        reads[column] += 1
        return read_cell(column, text, options)

    with monkeypatch.context() as patch:
        patch.setattr(columnar, "debtor_cell", counted)
        fast = _outcome(store, path)
    # Each of the 120 names once, and debtor 7's again when its e-mail changed.
    assert reads["debtor_name"] == 121
    assert reads["email"] == 121
    with monkeypatch.context() as patch:
        patch.setattr(checking_module, "read_batch", _uncached_batch)
        patch.setattr(BookWriter, "_insert", _reference_insert)
        slow = _outcome(second_store, path)
    assert fast == slow
    assert fast["created"] == 720 and fast["debtors_created"] == 120
    assert [warning for warning in fast["warnings"] if "other@example.fr" in warning] == [
        "many.csv: row 496, column email: debtor D-7 had 'd7@example.fr' on row 257; "
        "the last value 'other@example.fr' is kept"]
    assert _book(store) == _book(second_store)
