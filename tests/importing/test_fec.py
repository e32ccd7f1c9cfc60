"""Importing a FEC (fichier des écritures comptables) as open invoices.

The fixture, tests/data/fec/, is written from the layout of article A47 A-1 of the Livre
des procédures fiscales (BOFiP BOI-CF-IOR-60-40-20); its README says what each row is.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.kernel.errors import UsageError
from relance.store.db import Store
from relance.store.importing import ImportRefused, Mapping, import_invoices, load_mapping
from relance.store.importing.fec import FEC_COLUMNS, is_fec, open_fec
from relance.store.importing.mapping import FecOptions
from relance.store.models import Debtor, InvoiceStatus
from tests.cli import run_cli as run
from tests.importing.conftest import book_size, invoices

TODAY = dt.date(2026, 11, 22)
DATA = Path(__file__).resolve().parents[1] / "data" / "fec"
FEC = DATA / "123456782FEC20261231.txt"
MAPPING_FILE = DATA / "fec.toml"
MAPPING = Mapping(default_creditor="JCDA")

# (number, debtor, amount, paid, balance, issue date, due date), in cents.
EXPECTED = [
    ("FA-2026-0001", "C001", 120_000, 120_000, 0, "2026-09-01", "2026-10-01"),
    ("FA-2026-0002", "C002", 300_000, 100_000, 200_000, "2026-09-15", "2026-10-15"),
    ("FA-2026-0003", "C003", 48_060, 0, 48_060, "2026-10-03", "2026-11-02"),
    ("FA-2026-0004", "C002", 60_000, 0, 60_000, "2026-10-20", "2026-11-19"),
    ("FA-2026-0005", "411100", 24_000, 0, 24_000, "2026-11-02", "2026-12-02"),
]
UNLETTERED = (f"{FEC.name}: row 18, column EcritureLet: is empty: the credit of €100.00 "
              "on C003 (piece VIR-1030) is matched to no invoice and left out")


def fixture_rows() -> list[list[str]]:
    """The fixture's rows as cells, the header first."""
    return [line.split("\t") for line in FEC.read_text(encoding="utf-8").splitlines()]


def write_fec(path: Path, rows: list[list[str]], *, separator: str = "\t",
              encoding: str = "utf-8") -> Path:
    path.write_text("".join(separator.join(cells) + "\r\n" for cells in rows),
                    encoding=encoding)
    return path


def set_cell(rows: list[list[str]], row: int, column: str, value: str) -> None:
    """Row numbers as the messages give them: the header is row 1."""
    rows[row - 1][FEC_COLUMNS.index(column)] = value


def book_view(store: Store) -> list[tuple[object, ...]]:
    with store.transaction() as session:
        refs = dict(session.execute(select(Debtor.id, Debtor.ref)).all())
    return [(number, refs[inv["debtor_id"]], inv["amount_minor"], inv["paid_minor"],
             inv["balance_minor"], inv["issue_date"].isoformat(), inv["due_date"].isoformat())
            for number, inv in sorted(invoices(store).items())]


def test_the_fec_extract_imports_its_invoices_and_again_changes_nothing(store: Store) -> None:
    report = import_invoices(store, FEC, mapping=load_mapping(MAPPING_FILE), today=TODAY)
    assert (report.rows, report.created, report.updated, report.unchanged) == (5, 5, 0, 0)
    assert (report.debtors_created, report.creditors_created) == (4, 1)
    assert (report.warnings, report.warnings_total) == ([UNLETTERED], 1)
    assert report.sha256 is not None and len(report.sha256) == 64
    assert book_view(store) == EXPECTED
    book = invoices(store)
    assert book["FA-2026-0001"]["status"] == InvoiceStatus.PAID
    assert {inv["currency"] for inv in book.values()} == {"EUR"}
    with store.transaction() as session:
        names = dict(session.execute(select(Debtor.ref, Debtor.name)).all())
    assert names == {"C001": "Durand Coiffure", "C002": "Belle Époque SARL",
                     "C003": "Salon Lyon Part-Dieu", "411100": "Garage Moreau"}
    before = book_size(store)

    again = import_invoices(store, FEC, mapping=load_mapping(MAPPING_FILE), today=TODAY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert (again.debtors_created, again.debtors_updated, again.creditors_created) == (0, 0, 0)
    assert invoices(store) == book
    assert book_size(store) == (before[0], before[1], before[2] + 1)  # the import's event


def test_a_later_fec_updates_the_invoices_it_settles(store: Store, tmp_path: Path) -> None:
    import_invoices(store, FEC, mapping=MAPPING, today=TODAY)
    rows = fixture_rows()
    set_cell(rows, 8, "EcritureLet", "AC")  # FA-2026-0003 lettered with the
    set_cell(rows, 18, "EcritureLet", "AC")  # 100,00 left out until now
    report = import_invoices(store, write_fec(tmp_path / FEC.name, rows), mapping=MAPPING,
                             today=TODAY)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    assert report.warnings == []
    lyon = invoices(store)["FA-2026-0003"]
    assert (lyon["paid_minor"], lyon["balance_minor"]) == (10_000, 38_060)


def test_pipes_another_encoding_and_any_suffix_read_the_same(tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[0] = [name.upper() for name in rows[0]]  # header names are case-insensitive
    path = write_fec(tmp_path / "export.dat", rows, separator="|", encoding="iso-8859-15")
    assert is_fec(path)
    mapping = Mapping(default_creditor="JCDA", encoding="iso-8859-15")
    assert [cells for _, cells in open_fec(path, mapping).rows] == \
        [cells for _, cells in open_fec(FEC, MAPPING).rows]


def test_only_a_fec_header_makes_a_fec(tmp_path: Path, examples_dir: Path) -> None:
    assert not is_fec(examples_dir / "invoices.csv")
    assert not is_fec(tmp_path / "absent.txt")
    half = write_fec(tmp_path / "half.txt", [list(FEC_COLUMNS[:9])])
    assert not is_fec(half)
    semicolons = write_fec(tmp_path / "semi.txt", [list(FEC_COLUMNS)], separator=";")
    assert not is_fec(semicolons)


def test_a_malformed_fec_is_refused_whole_naming_its_rows_and_columns(
        store: Store, tmp_path: Path) -> None:
    rows = fixture_rows()
    set_cell(rows, 14, "EcritureDate", "20261331")
    set_cell(rows, 5, "Debit", "3000,0O")
    set_cell(rows, 20, "PieceRef", "")
    set_cell(rows, 9, "Debit", "abc")  # a 706 line: not read
    path = write_fec(tmp_path / FEC.name, rows)
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, path, mapping=MAPPING, today=TODAY)
    assert refused.value.exit_code == 2
    assert refused.value.errors == [
        f"{FEC.name}: row 5, column Debit: '3000,0O' is not a number",
        f"{FEC.name}: row 14, column EcritureDate: '20261331' is not a day of the calendar",
        f"{FEC.name}: row 20, column PieceRef: is empty: the invoice number of a debit",
    ]
    assert book_size(store) == (0, 0, 0)

    import_invoices(store, FEC, mapping=MAPPING, today=TODAY)
    before, book = book_size(store), invoices(store)
    missing = [cells[:-1] for cells in fixture_rows()]  # no Idevise
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_fec(tmp_path / "fec.txt", missing), mapping=MAPPING)
    assert refused.value.errors == [
        "fec.txt: row 1, column Idevise: this column is missing from the header"]
    shifted = fixture_rows()
    set_cell(shifted, 7, "Idevise", "EUR")
    shifted[6][10] += "\tpart of the label"  # a tab inside a label: one cell too many
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_fec(tmp_path / "fec.txt", shifted), mapping=MAPPING)
    assert refused.value.errors == [
        "fec.txt: row 7: has 19 cells but the header has 18 columns"]
    assert (book_size(store), invoices(store)) == (before, book)


def test_a_fec_needs_the_creditor_from_the_mapping(store: Store) -> None:
    with pytest.raises(UsageError) as refused:
        import_invoices(store, FEC)
    assert refused.value.message == (
        f"{FEC.name}: a FEC does not name the creditor: give a mapping file (--mapping) "
        "that sets default_creditor")


def ledger(tmp_path: Path, lines: list[tuple[str, ...]],
           options: FecOptions | None = None) -> tuple[list[list[str]], list[str], list[str]]:
    """Read a small FEC of customer lines (journal, aux, piece, date, debit, credit,
    letter[, Montantdevise, Idevise]); returns (rows, errors, warnings)."""
    rows = [list(FEC_COLUMNS)]
    for number, (journal, aux, piece, day, debit, credit, letter, *currency) in enumerate(
            lines, start=1):
        amount, code = currency or ("", "")
        rows.append([journal, journal, str(number), day, "411000", "Clients", aux, f"Client {aux}",
                     piece, day, piece, debit, credit, letter, "", day, amount, code])
    mapping = Mapping(default_creditor="JCDA", fec=options or FecOptions())
    source = open_fec(write_fec(tmp_path / "fec.txt", rows), mapping)
    return ([cells for _, cells in source.rows],
            [error.render("fec.txt") for error in source.errors], source.warnings)


def test_partial_lettering_pays_the_oldest_invoices_first(tmp_path: Path) -> None:
    rows, errors, warnings = ledger(tmp_path, [
        ("VT", "C1", "F-2", "20260910", "300,00", "", "X"),
        ("VT", "C1", "F-1", "20260901", "200,00", "", "X"),
        ("BQ", "C1", "V-1", "20261001", "", "350,00", "X"),
        ("VT", "C2", "F-3", "20260901", "100,00", "", "X"),  # another account's X
        ("BQ", "C2", "V-2", "20261001", "", "130,00", "X"),
    ])
    assert errors == []
    assert [(cells[2], cells[5], cells[7]) for cells in rows] == [
        ("F-2", "300.00", "150.00"), ("F-1", "200.00", "200.00"), ("F-3", "100.00", "100.00")]
    assert warnings == ["fec.txt: row 6, column EcritureLet: the credits lettered 'X' exceed "
                        "its invoices by €30.00: the excess is left out"]


def test_credits_lettered_to_nothing_and_other_journals_are_left_out(tmp_path: Path) -> None:
    rows, errors, warnings = ledger(tmp_path, [
        ("VT", "C1", "F-1", "20260901", "200,00", "", ""),
        ("BQ", "C1", "V-1", "20261001", "", "50,00", "Z"),
        ("BQ", "C1", "REJ-1", "20261005", "80,00", "", ""),  # a bounced payment
        ("VT", "C1", "F-2", "20260905", "-40,00", "", ""),  # a debit in red: a credit
    ], FecOptions(journals=("VT",)))
    assert errors == []
    assert [(cells[2], cells[5], cells[7]) for cells in rows] == [("F-1", "200.00", "0.00")]
    assert warnings == [
        "fec.txt: row 3, column EcritureLet: 'Z' letters no invoice of the file: the credit "
        "of €50.00 is left out",
        "fec.txt: row 4, column JournalCode: 'BQ' is not an invoice journal of the mapping: "
        "the debit of €80.00 on C1 is left out",
        "fec.txt: row 5, column EcritureLet: is empty: the credit of €40.00 on C1 "
        "(piece F-2) is matched to no invoice and left out",
    ]


def test_foreign_currency_invoices_and_a_settled_group(tmp_path: Path) -> None:
    rows, errors, _ = ledger(tmp_path, [
        ("VT", "C1", "F-1", "20260901", "920,00", "", "A", "1000,00", "USD"),
        # Paid at another rate: the exchange gain is booked on the account, so the
        # group balances in euros and the invoice is settled.
        ("BQ", "C1", "V-1", "20261001", "", "950,00", "A", "1000,00", "USD"),
        ("OD", "C1", "GAIN-1", "20261001", "30,00", "", "A"),
        ("VT", "C2", "F-2", "20260901", "460,00", "", "B", "500,00", "USD"),
        ("BQ", "C2", "V-2", "20261001", "", "92,00", "B", "100,00", "USD"),
    ])
    assert errors == []
    assert [(cells[2], cells[5], cells[6], cells[7]) for cells in rows] == [
        ("F-1", "1000.00", "USD", "1000.00"), ("GAIN-1", "30.00", "EUR", "30.00"),
        ("F-2", "500.00", "USD", "100.00")]


def test_an_invoice_number_names_one_invoice(tmp_path: Path) -> None:
    _, errors, _ = ledger(tmp_path, [
        ("AN", "C1", "AN", "20260101", "200,00", "", ""),
        ("AN", "C2", "AN", "20260101", "300,00", "", ""),
        ("VT", "C1", "F-1", "20260901", "100,00", "", "", "110,00", "USD"),
        ("VT", "C1", "F-1", "20260902", "100,00", "", ""),
    ])
    assert errors == [
        "fec.txt: row 3, column PieceRef: 'AN' is already an invoice of C1 on row 2; an "
        "invoice number names one invoice",
        "fec.txt: row 5, column Idevise: invoice F-1 is in USD on row 4, not EUR",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ('[fec]\naccount = ["411"]\n', "unknown key fec.account"),
    ('[fec]\naccounts = "411"\n', 'fec.accounts must be a non-empty list of texts such as '
                                  '["411"]'),
    ("[fec]\npayment_terms_days = true\n", "fec.payment_terms_days must be a whole number"),
    ('fec = "411"\n', "[fec] must be a table"),
])
def test_the_fec_table_of_a_mapping_is_checked(tmp_path: Path, text: str,
                                               message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_mapping(path)
    path.write_text('[fec]\naccounts = ["411", "416"]\npayment_terms_days = 45\n'
                    'journals = ["VT"]\n', encoding="utf-8")
    assert load_mapping(path).fec == FecOptions(("411", "416"), 45, ("VT",))


def test_the_command_line_imports_a_fec_and_refuses_a_bad_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "ws")
    rows = fixture_rows()
    set_cell(rows, 14, "EcritureDate", "2026-09-31")
    bad = write_fec(tmp_path / "file.txt", rows)
    code, out, err = run(capsys, "-w", ws, "import", "invoices", str(bad),
                         "--mapping", str(MAPPING_FILE))
    assert (code, out) == (2, "")
    assert err.startswith("relance: file.txt: refused, nothing was imported (1 error):")
    assert ("file.txt: row 14, column EcritureDate: '2026-09-31' is not a date (a FEC "
            "writes YYYYMMDD)") in err
    code, out, _ = run(capsys, "-w", ws, "--json", "report", "aged")
    assert json.loads(out)["lines"] == []

    code, out, err = run(capsys, "-w", ws, "import", "invoices", str(FEC),
                         "--mapping", str(MAPPING_FILE))
    assert code == 0, err
    assert "5 rows — 5 created, 0 updated, 0 unchanged" in out
    assert "warning" in out and "row 18, column EcritureLet" in out
    code, out, _ = run(capsys, "-w", ws, "--json", "import", "invoices", str(FEC),
                       "--mapping", str(MAPPING_FILE))
    assert code == 0
    report = json.loads(out)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 5)
    assert report["warnings_total"] == 1

    code, _, err = run(capsys, "-w", ws, "import", "invoices", str(FEC))
    assert code == 2 and "a FEC does not name the creditor" in err


def test_the_examples_of_the_docs_are_what_the_import_says(store: Store, tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(
        encoding="utf-8")
    section = doc.split("## FEC (fichier des écritures comptables)")[1].split("\n## ")[0]
    assert UNLETTERED in section
    rows = fixture_rows()
    set_cell(rows, 14, "EcritureDate", "20261331")
    set_cell(rows, 5, "Debit", "3000,0O")
    with pytest.raises(ImportRefused) as refused:
        import_invoices(store, write_fec(tmp_path / FEC.name, rows), mapping=MAPPING)
    assert f"relance: {refused.value.message}\n" in section
