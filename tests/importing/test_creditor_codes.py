"""Creditor codes (issue 19): a code names folders (outbox, templates per creditor) and
appears in headers, so one that could hold CR/LF, an encoded word `=?` or `../` is
refused wherever a code enters: the canonical `creditor` column, a mapping's
`default_creditor`, and the writer that creates creditors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import ImportRefused, Mapping, import_invoices, load_mapping
from relance.store.importing.cells import creditor_code_problem
from relance.store.importing.rows import Options as RowOptions
from relance.store.importing.rows import make_layout
from relance.store.importing.writing import BookWriter
from relance.store.models import Creditor
from tests.importing.conftest import book_size, row, write_csv

TODAY = dt.date(2026, 11, 22)
RULE = ("use 1 to 40 ASCII letters, digits, '-', '_' and '.', starting with a letter or a "
        "digit, with no '..' and no final '.'")
BAD = ["=?UTF-8?Q?=0A?=Bcc:x", "../../etc", "..", "A..B", ".hidden", "-rf", "ACME.",
       "JC DA", "JC/DA", "JC\\DA", "Café", "x" * 41, "JC%0ADA"]
GOOD = ["JCDA", "acme-fr_2.0", "A", "9B", "x" * 40]


def creditors(store: Store) -> int:
    with store.transaction() as session:
        return session.execute(select(func.count()).select_from(Creditor)).scalar_one()


@pytest.mark.parametrize("code", BAD)
def test_the_validator_refuses_what_could_leave_a_folder_or_a_header(code: str) -> None:
    assert creditor_code_problem(code) == f"{code!r} is not a creditor code: {RULE}"


@pytest.mark.parametrize("code", GOOD)
def test_the_validator_accepts_plain_codes(code: str) -> None:
    assert creditor_code_problem(code) is None


def test_a_long_bad_code_is_shown_shortened() -> None:
    assert creditor_code_problem("/" * 5000) == f"{'/' * 40 + '…'!r} is not a creditor code: {RULE}"


def test_bad_codes_in_the_creditor_column_are_refused_and_nothing_is_stored(
        store: Store, tmp_path: Path) -> None:
    rows = [row(f"A-{n}", ref=f"F-{n}", creditor=code) for n, code in enumerate(BAD, start=1)]
    rows.append(row("B-1", ref="F-99", creditor="JC\r\nDA"))
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_csv(tmp_path / "invoices.csv", rows), today=TODAY)
    assert refused.value.exit_code == 2
    assert refused.value.errors == [
        *(f"invoices.csv: row {n}, column creditor: {code!r} is not a creditor code: {RULE}"
          for n, code in enumerate(BAD, start=2)),
        f"invoices.csv: row {len(BAD) + 2}, column creditor: holds a line break (U+000D, "
        "character 3) where one line is expected",
    ]
    assert book_size(store) == (0, 0, 0)
    assert creditors(store) == 0


def test_good_codes_create_their_creditors(store: Store, tmp_path: Path) -> None:
    rows = [row(f"A-{n}", creditor=code) for n, code in enumerate(GOOD)]
    report = import_invoices(store, write_csv(tmp_path / "invoices.csv", rows), today=TODAY)
    assert (report.created, report.creditors_created) == (len(GOOD), len(GOOD))


def test_a_mapping_default_creditor_is_checked_when_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text('default_creditor = "../../outbox"\n', encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        load_mapping(path)
    assert refused.value.exit_code == 2
    assert refused.value.message == (
        f"{path}: default_creditor: '../../outbox' is not a creditor code: {RULE}")
    path.write_text('default_creditor = "JCDA-2"\n', encoding="utf-8")
    assert load_mapping(path).default_creditor == "JCDA-2"


def test_a_default_creditor_given_in_code_is_checked_on_each_row(
        store: Store, tmp_path: Path) -> None:
    rows = [{key: value for key, value in row("A-1").items() if key != "creditor"}]
    path = write_csv(tmp_path / "invoices.csv", rows)
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, mapping=Mapping(default_creditor="a/b"), today=TODAY)
    assert refused.value.errors == [
        f"invoices.csv: row 2, column creditor: 'a/b' is not a creditor code: {RULE}"]
    assert creditors(store) == 0


def test_the_writer_never_creates_a_creditor_with_a_bad_code(store: Store) -> None:
    layout, _ = make_layout(list(row("A-1")), RowOptions())
    with pytest.raises(UsageError) as refused, store.write_transaction() as session:
        writer = BookWriter(session.connection(), layout, today=TODAY, actor="test")
        writer.creditor_id("../x")
    assert refused.value.message == f"creditor '../x' is not a creditor code: {RULE}"
    assert creditors(store) == 0
