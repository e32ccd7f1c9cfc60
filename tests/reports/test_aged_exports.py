"""`relance report aged` as CSV (both dialects), XLSX and PDF, read back as a user would."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.reports.conftest import Books
from tests.reports.helpers import (
    french,
    has_colour,
    page_png,
    pdf_text,
    read_csv,
    sum_formula_total,
)

EVIL_REF = "=cmd|' /C calc'!A0"


def test_aged_csv_is_what_excel_in_french_opens(books: Books) -> None:
    target = books.root / "aged.csv"
    code, out, err = books.run("report", "aged", "--by", "debtor", "--on", "2026-11-22",
                               "--format", "csv", "-o", str(target))
    assert code == 0, err
    assert "aged.csv" in out
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    table = read_csv(target)
    assert table[0] == ["debtor", "name", "currency", "not due", "1–30 d", "31–60 d",
                        "61–90 d", "> 90 d", "total", "invoices"]
    rows = {(row[0], row[2]): row for row in table[1:]}
    # F-101 1 000 and the credit note -120 are 31-60 days late; F-102 800 not due yet
    assert rows[("F-1", "EUR")][3:] == ["800,00", "0,00", "880,00", "0,00", "0,00",
                                        "1680,00", "3"]
    assert rows[("F-1", "CHF")][8] == "750,00"
    # Formula-like text is shown, never run: the reference and the name both.
    evil = rows[("'" + EVIL_REF, "EUR")]
    assert evil[1] == "'=HYPERLINK(\"http://evil\")"
    assert evil[4] == "99,90"
    totals = {row[2]: row for row in table[1:] if row[0] == "total"}
    assert french(totals["EUR"][8]) == Decimal("1779.90")
    assert totals["CHF"][9] == "1"


def test_aged_csv_for_programs_in_rfc4180(books: Books) -> None:
    code, out, _ = books.run("report", "aged", "--by", "segment", "--on", "2026-11-22",
                             "--format", "csv", "--dialect", "rfc4180")
    assert code == 0
    assert not out.startswith("\ufeff")
    lines = out.splitlines()
    assert lines[0] == ("segment,name,currency,not due,1–30 d,31–60 d,61–90 d,> 90 d,"
                        "total,invoices")
    assert "franchisee,franchisee,EUR,800.00,0.00,880.00,0.00,0.00,1680.00,3" in lines
    assert "'@sum(1),'@sum(1),EUR,0.00,99.90,0.00,0.00,0.00,99.90,1" in lines


def test_aged_csv_speaks_the_workspace_language(books: Books) -> None:
    (books.root / "relance.toml").write_text('[ui]\nlanguage = "fr"\n', encoding="utf-8")
    target = books.root / "balance.csv"
    code, out, _ = books.run("report", "aged", "--by", "country", "--on", "2026-11-22",
                             "--format", "csv", "-o", str(target))
    assert code == 0 and "balance.csv écrit" in out
    header = read_csv(target)[0]
    assert header[:3] == ["pays", "nom", "devise"]
    assert header[-1] == "factures"


def test_aged_xlsx_is_formatted_filtered_and_totals_are_formulas(books: Books) -> None:
    from openpyxl import load_workbook

    target = books.root / "aged.xlsx"
    code, _, err = books.run("report", "aged", "--by", "debtor", "--on", "2026-11-22",
                             "--format", "xlsx", "--output", str(target))
    assert code == 0, err
    sheet = load_workbook(target).active
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.auto_filter.ref == f"A1:J{sheet.max_row}"
    assert sheet.column_dimensions["B"].width >= len('=HYPERLINK("http://evil")')
    assert sheet.column_dimensions["I"].width >= 8
    rows = list(sheet.iter_rows(min_row=2))
    by_key = {(row[0].value, row[2].value): row for row in rows}
    lyon = by_key[("F-1", "EUR")]
    assert lyon[8].value == Decimal("1680.00") or lyon[8].value == 1680
    assert lyon[8].number_format == '#,##0.00 "€"'
    assert by_key[("F-1", "CHF")][8].number_format == '#,##0.00 "CHF"'
    evil = by_key[("'" + EVIL_REF, "EUR")]
    assert evil[1].value == "'=HYPERLINK(\"http://evil\")" and evil[1].data_type == "s"
    # Totals add the rows up in the sheet itself, per currency.
    totals = {row[2].value: row for row in rows if row[0].value == "total"}
    eur = totals["EUR"]
    assert all(cell.data_type == "f" and str(cell.value).startswith("=SUM(")
               for cell in eur[3:10])
    assert eur[8].font.bold and eur[8].number_format == '#,##0.00 "€"'
    assert sum_formula_total(sheet, eur[8].value) == Decimal("1779.90")
    assert sum_formula_total(sheet, eur[9].value) == 4
    assert sum_formula_total(sheet, totals["CHF"][8].value) == Decimal("750.00")
    # No text cell anywhere is a formula: only the totals are.
    formulas = [cell for row in rows for cell in row if cell.data_type == "f"]
    assert {cell.row for cell in formulas} == {row[0].row for row in totals.values()}


def test_aged_pdf_has_the_chart_and_the_totals(books: Books) -> None:
    target = books.root / "aged.pdf"
    code, out, err = books.run("report", "aged", "--by", "segment", "--on", "2026-11-22",
                               "--format", "pdf", "-o", str(target))
    assert code == 0, err
    assert "aged.pdf" in out
    text = pdf_text(target)
    assert "Aged balance on 22/11/2026 by segment" in text
    assert "Open balances in EUR" in text and "Open balances in CHF" in text
    assert "1,779.90" in text and "750.00" in text
    assert "Jean Coutu Diffusion" in text
    # The EUR chart (second page): franchisee's bars in the first colour, @sum(1)'s in
    # the second, and the buckets named under them.
    image = page_png(target, Path("/tmp/reports-aged-page2.png"), page=1)
    assert has_colour(image, (0x1f, 0x5f, 0x99)) and has_colour(image, (0xe0, 0x8a, 0x1e))
    assert "31–60 d" in text and "franchisee" in text
