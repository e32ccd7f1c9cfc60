"""`relance report statement`: the debtor's account statement as PDF, CSV and XLSX."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from relance.channels.reports.statement_pdf import statement_pdf
from tests.reports.conftest import ON, Books
from tests.reports.helpers import french, has_colour, page_png, pdf_text, read_csv


def test_statement_pdf_in_the_debtors_language_with_the_creditors_logo(books: Books) -> None:
    target = books.root / "releve.pdf"
    code, out, err = books.run("report", "statement", "F-1", "--on", "2026-11-22",
                               "-o", str(target))
    assert code == 0, err
    assert "releve.pdf" in out
    text = pdf_text(target)
    # Salon Lyon reads French, whatever the workspace speaks.
    assert "Relevé de compte au 22/11/2026" in text
    assert "Compte F-1" in text and "Salon Lyon" in text and "4 place Bellecour" in text
    assert "Solde antérieur" in text
    # the running balance, line after line: F-103, F-101, AV-7, VIR-2, F-104, F-102,
    # VIR-3, its reversal, VIR-4
    running = ["300,00", "1 800,00", "1 500,00", "1 000,00", "880,00", "1 680,00",
               "1 480,00", "1 680,00", "1 630,00"]
    position = 0
    for figure in running:
        position = text.index(figure, position) + len(figure)
    assert "Règlement annulé : returned direct debit" in text
    assert "Solde dû au 22/11/2026 1 630,00 €" in text
    assert "Dont échu 1 000,00 €" in text and "Dont non échu 800,00 €" in text
    assert "Compte en CHF" in text and "750,00 CHF" in text
    # Settled in July, long before the 90 days: only in the brought-forward figure.
    assert "F-100" not in text and "VIR-1" not in text
    image = page_png(target, Path("/tmp/reports-statement-page1.png"))
    assert has_colour(image, (200, 20, 30)) and has_colour(image, (20, 40, 160))


def test_statement_pdf_is_a_function_other_parts_call(books: Books) -> None:
    with books.store.transaction() as session:
        pdf = statement_pdf(session, books.debtors["lyon"], on=ON, days=365,
                            workspace_root=books.root, language="en")
    target = books.root / "long.pdf"
    target.write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(target)
    # A year back shows the July invoice and its payment too.
    assert "Account statement on 22/11/2026" in text
    assert "F-100" in text and "Payment for F-100" in text
    assert "Balance due on 22/11/2026 €1,630.00" in text


def test_statement_csv_runs_to_the_balance_due(books: Books) -> None:
    target = books.root / "statement.csv"
    code, _, err = books.run("report", "statement", "F-1", "--on", "2026-11-22",
                             "--format", "csv", "-o", str(target))
    assert code == 0, err
    table = read_csv(target)
    assert table[0] == ["date", "piece", "type", "label", "due date", "currency", "debit",
                        "credit", "balance"]
    eur = [row for row in table[1:] if row[5] == "EUR"]
    assert eur[0][3] == "Balance brought forward" and eur[0][0] == "24/08/2026"
    assert eur[1][:5] == ["01/08/2026", "F-103", "Invoice", "Invoice", "01/09/2026"]
    *lines, total = eur
    assert sum(french(r[6]) - french(r[7]) for r in lines) == Decimal("1630.00")
    assert total[3] == "Balance due on 22/11/2026" and total[8] == "1630,00"
    assert [r[8] for r in lines][-3:] == ["1480,00", "1680,00", "1630,00"]


def test_statement_xlsx_with_days_as_dates_and_sum_totals(books: Books) -> None:
    from openpyxl import load_workbook

    target = books.root / "statement.xlsx"
    code, _, err = books.run("report", "statement", "F-1", "--on", "2026-11-22",
                             "--days", "30", "--format", "xlsx", "-o", str(target))
    assert code == 0, err
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(min_row=2))
    assert rows[0][0].number_format == "DD/MM/YYYY" and rows[0][0].is_date
    totals = [row for row in rows if row[6].data_type == "f"]
    assert [row[5].value for row in totals] == ["CHF", "EUR"]
    assert all(str(row[6].value).startswith("=SUM(") for row in totals)
    assert totals[1][8].value == Decimal("1630.00") or totals[1][8].value == 1630


def test_an_unknown_debtor_is_named(books: Books) -> None:
    code, _, err = books.run("report", "statement", "NOPE", "--format", "csv")
    assert code == 2 and "NOPE" in err
