"""Control characters in the text cells of an import (issue 19): a NUL byte made
PostgreSQL raise a driver error (a traceback) and SQLite store it. Every reader now
refuses such a cell through one checker, naming the row and the column, and stores
nothing, on both databases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import (
    ImportRefused,
    Mapping,
    import_invoices,
    import_payments,
    load_mapping,
)
from relance.store.importing.cells import CellCheck, control_problem, may_be_refused
from relance.store.models import Debtor
from tests.cli import run_cli as run
from tests.importing.conftest import book_size, invoices, row, write_csv
from tests.importing.test_fec import fixture_rows, set_cell, write_fec

TODAY = dt.date(2026, 11, 22)
NUL_IN_NAME = "invoices.csv: row 3, column debtor_name: holds the control character U+0000 " \
              "(character 6)"


def test_the_checker_refuses_controls_and_line_breaks_only_where_one_line_is_expected(
) -> None:
    assert control_problem("Salon Lyon") is None
    assert control_problem("Salon\tLyon") is None  # a tab is blank space, not a control
    assert control_problem("1 234,56\u00a0€") is None
    assert control_problem("Salon\x00Lyon") == "holds the control character U+0000 (character 6)"
    assert control_problem("\x1b[31m") == "holds the control character U+001B (character 1)"
    assert control_problem("a\x7f") == "holds the control character U+007F (character 2)"
    assert control_problem("l\x92an") == ("holds the control character U+0092 (character 2), "
                                          "a sign of text read in the wrong encoding")
    for brk in ("\n", "\r", "\u2028", "\u2029"):
        assert control_problem(f"ab{brk}", multiline=True) is None
        assert control_problem(f"ab{brk}") == (
            f"holds a line break (U+{ord(brk):04X}, character 3) where one line is expected")
    assert control_problem("1 rue X\r\n\x00", multiline=True) == (
        "holds the control character U+0000 (character 10)")
    check = CellCheck(((0, "debtor_name", False), (2, "address", True)))
    assert check.problems(["a", "\x00", "b\nc"]) == []  # position 1 is not read
    assert check.problems(["a\nb", "", "b\x01c"]) == [
        ("debtor_name", "holds a line break (U+000A, character 2) where one line is expected"),
        ("address", "holds the control character U+0001 (character 2)")]


def test_a_nul_in_a_text_cell_is_refused_naming_its_row_and_column(
        store: Store, tmp_path: Path) -> None:
    import_invoices(store, write_csv(tmp_path / "good.csv", [row("A-1")]), today=TODAY)
    before, book = book_size(store), invoices(store)
    path = write_csv(tmp_path / "invoices.csv", [row("A-2"), row("A-3", name="Salon\x00Lyon")])
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    assert refused.value.exit_code == 2
    assert refused.value.errors == [NUL_IN_NAME]
    assert (book_size(store), invoices(store)) == (before, book)


def test_every_text_column_is_checked_and_each_bad_cell_named_once(
        store: Store, tmp_path: Path) -> None:
    rows = [
        row("A-1", name="Salon\nLyon"),  # row 2: a name is one line
        row("A-\r2"),  # row 3
        row("A-3", email="lyon@example.fr\x00", address="1 rue X\nLyon"),  # row 4
        row("A-4", issue="2026-09-\x001", region="Rh\x00ône", address="1 rue X"),  # row 5
        row("A-5", disputed="parti\x1b[2J", address="1 rue X"),  # row 6
    ]
    for item in rows:
        item.setdefault("address", "")
        item.setdefault("region", "")
        item.setdefault("disputed", "")
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_csv(tmp_path / "invoices.csv", rows), today=TODAY)
    assert refused.value.errors == [
        "invoices.csv: row 2, column debtor_name: holds a line break (U+000A, character 6) "
        "where one line is expected",
        "invoices.csv: row 3, column invoice_number: holds a line break (U+000D, character 3) "
        "where one line is expected",
        "invoices.csv: row 4, column email: holds the control character U+0000 "
        "(character 16)",
        # the date's own check says nothing more about the cell already refused
        "invoices.csv: row 5, column issue_date: holds the control character U+0000 "
        "(character 9)",
        "invoices.csv: row 5, column region: holds the control character U+0000 "
        "(character 3)",
        "invoices.csv: row 6, column disputed: holds the control character U+001B "
        "(character 6)",
    ]
    assert book_size(store) == (0, 0, 0)


def test_free_text_keeps_its_line_breaks_and_tabs(store: Store, tmp_path: Path) -> None:
    # The address, a dispute's reason and the ERP's own columns (custom attributes).
    rows = [row("A-1", name="Salon\tLyon", address="1 rue X\r\n69001 Lyon",
                disputed="livraison\nincomplète", note="appeler\u2028le matin")]
    import_invoices(store, write_csv(tmp_path / "invoices.csv", rows), today=TODAY)
    stored = invoices(store)["A-1"]
    assert stored["dispute_reason"] == "livraison\nincomplète"
    assert stored["attrs"] == {"note": "appeler\u2028le matin"}
    with store.transaction() as session:
        debtor = session.execute(select(Debtor)).scalar_one()
        assert (debtor.name, debtor.address) == ("Salon\tLyon", "1 rue X\r\n69001 Lyon")


def test_the_refused_cells_example_of_the_docs_is_what_the_import_says(
        store: Store, tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(
        encoding="utf-8")
    section = doc.split("### Refused cells")[1].split("\n## ")[0]
    rows = [row(f"A-{n}") for n in range(1, 5)]
    rows[1]["debtor_name"] = "Salon\x00Lyon"  # row 3
    rows[3]["creditor"] = "../outbox"  # row 5
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_csv(tmp_path / "invoices.csv", rows), today=TODAY)
    assert len(refused.value.errors) == 2
    for line in refused.value.errors:
        assert f"\n{line}\n" in section


def test_a_control_character_in_the_header_is_refused(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "invoices.csv", [row("A-1", **{"regi\x00on": "ARA"})])
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, today=TODAY)
    assert refused.value.errors == [
        "invoices.csv: row 1, column 17: the column's name holds the control character "
        "U+0000 (character 5)"]
    assert book_size(store) == (0, 0, 0)


def test_an_xlsx_cell_with_a_line_break_or_a_c1_control_is_refused(
        store: Store, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(row("X-1")))
    sheet.append(list(row("X-1", name="Salon\nLyon").values()))  # Alt+Enter in Excel
    sheet.append(list(row("X-2", ref="F-2", name="Salon L\x85yon").values()))
    workbook.save(tmp_path / "book.xlsx")
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, tmp_path / "book.xlsx", today=TODAY)
    assert refused.value.errors == [
        "book.xlsx: row 2, column debtor_name: holds a line break (U+000A, character 6) "
        "where one line is expected",
        "book.xlsx: row 3, column debtor_name: holds the control character U+0085 "
        "(character 8), a sign of text read in the wrong encoding",
    ]
    assert book_size(store) == (0, 0, 0)


def test_a_fec_customer_line_with_a_control_character_is_refused(
        store: Store, tmp_path: Path) -> None:
    rows = fixture_rows()
    set_cell(rows, 2, "CompAuxLib", "Durand\x00Coiffure")
    set_cell(rows, 5, "PieceRef", "FA-2026\x0b-0002")
    set_cell(rows, 3, "EcritureLib", "\x00 a sales line: not read, not stored")
    path = write_fec(tmp_path / "fec.txt", rows)
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, mapping=Mapping(default_creditor="JCDA"), today=TODAY)
    assert refused.value.errors == [
        "fec.txt: row 2, column CompAuxLib: holds the control character U+0000 (character 7)",
        "fec.txt: row 5, column PieceRef: holds the control character U+000B (character 8)",
    ]
    assert book_size(store) == (0, 0, 0)


def test_a_payment_line_with_a_control_character_is_refused(
        store: Store, tmp_path: Path, examples_dir: Path) -> None:
    import_invoices(store, examples_dir / "invoices.csv", today=TODAY)
    before, book = book_size(store), invoices(store)
    path = tmp_path / "payments.csv"
    path.write_text(
        "creditor;invoice_number;date;amount;currency;reference\n"
        "JCDA;FA-2026-0001;2026-11-20;100,00;EUR;VIR\x00-1\n"
        "JCDA;FA-2026-0001;2026-11-2\x00;100,00;EUR;VIR-2\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_payments(store, path, today=TODAY)
    assert refused.value.errors == [
        "payments.csv: row 2, column reference: holds the control character U+0000 "
        "(character 4)",
        "payments.csv: row 3, column date: holds the control character U+0000 (character 10)",
    ]
    assert (book_size(store), invoices(store)) == (before, book)


@pytest.mark.parametrize(("text", "message"), [
    ('default_creditor = "JC\\u0000DA"\n',
     "default_creditor holds the control character U+0000 (character 3)"),
    ('sheet = "Fac\\ntures"\n',
     "sheet holds a line break (U+000A, character 4) where one line is expected"),
    ('[columns]\n"Nom\\u0007" = "debtor_name"\n',
     "columns.'Nom\\x07' holds the control character U+0007 (character 4)"),
    ('[columns]\n"Nom" = "attr.x\\u0000"\n',
     "columns.'Nom' holds the control character U+0000 (character 7)"),
    ('[fec]\njournals = ["VT", "A\\u001bN"]\n',
     "fec.journals[1] holds the control character U+001B (character 2)"),
])
def test_a_mapping_file_with_a_control_character_is_refused_naming_its_key(
        tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        load_mapping(path)
    assert refused.value.message == f"{path}: {message}"
    path.write_text('delimiter = "\\t"\n', encoding="utf-8")  # a tab is a fine delimiter
    assert load_mapping(path).delimiter == "\t"


def test_the_command_line_refuses_the_nul_with_exit_2_and_no_traceback(
        db_url: tuple[str, str | None], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, schema = db_url
    # The command line reaches the test's PostgreSQL schema through the URL.
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    path = write_csv(tmp_path / "invoices.csv", [row("A-2"), row("A-3", name="Salon\x00Lyon")])
    ws = ["-w", str(tmp_path), "--db", cli_url]
    code, out, err = run(capsys, *ws, "import", "invoices", str(path))
    assert (code, out) == (2, "")
    assert err == ("relance: invoices.csv: refused, nothing was imported (1 error):\n"
                   f"  {NUL_IN_NAME}\n")
    code, out, _ = run(capsys, *ws, "--json", "import", "invoices", str(path))
    assert code == 2
    document = json.loads(out)
    assert (document["refused"], document["errors"]) == (True, [NUL_IN_NAME])
    code, out, _ = run(capsys, *ws, "--json", "report", "aged")
    assert (code, json.loads(out)["lines"]) == (0, [])


@pytest.mark.parametrize("around", ["Salon Lyon", "Salon Lyon 1\u00a0234,56 é", "Salon 1 € ✓"])
def test_the_batch_search_finds_every_refused_character_and_nothing_else(around: str) -> None:
    # The batch search takes a shortcut on Latin-1 text and another path on wider text;
    # both must flag exactly the characters some cell refuses (C0 but the tab, DEL,
    # C1, U+2028, U+2029), whatever character width the text around them has.
    refused = {*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029}
    for code in [*range(0x00, 0x300), 0x2027, 0x2028, 0x2029, 0x202A, 0x202F, 0xFEFF]:
        text = f"{around}\t{chr(code)}\t{around}"
        assert may_be_refused(text) is (code in refused), hex(code)
