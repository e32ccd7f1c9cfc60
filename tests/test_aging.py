"""The aged balance, on SQLite and PostgreSQL, and `relance report aged`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from relance.engine.aging import BUCKET_TITLES, AgedBalance, aged_balance, bucket_index
from relance.store.db import Store
from relance.store.importing import import_invoices
from tests.cli import run_cli as run
from tests.importing.conftest import row, write_csv

ON = dt.date(2026, 11, 22)


def aged(store: Store, by: str = "segment", on: dt.date = ON) -> AgedBalance:
    with store.transaction() as session:
        return aged_balance(session, on=on, by=by)


def test_the_example_book_by_segment_to_the_cent(store: Store, examples_dir: Path) -> None:
    import_invoices(store, examples_dir / "invoices.csv", today=ON)
    report = aged(store)
    lines = {(line.key, line.currency): line.buckets for line in report.lines}
    assert lines == {
        ("franchisee", "CHF"): (0, 0, 150_000, 0, 0),
        ("franchisee", "EUR"): (125_000, 64_000, 98_040, 365_050, 0),
        ("individual", "EUR"): (0, 8_990, 0, 0, 0),
        ("key_account", "EUR"): (0, 0, 0, 1_890_000, 0),
        ("public_body", "EUR"): (0, 0, 420_000, 0, 0),
    }
    totals = {line.currency: (line.buckets, line.total, line.invoices) for line in report.totals}
    assert totals == {
        "CHF": ((0, 0, 150_000, 0, 0), 150_000, 1),
        "EUR": ((125_000, 72_990, 518_040, 2_255_050, 0), 2_971_080, 8),
    }
    document = report.as_dict()
    assert document["totals"][1]["total"] == "29710.80"
    assert document["totals"][1]["overdue_61_90"] == "22550.50"


def test_bucket_edges_credit_notes_and_later_invoices(store: Store, tmp_path: Path) -> None:
    late = {"d0": 0, "d1": 1, "d30": 30, "d31": 31, "d60": 60, "d61": 61, "d90": 90,
            "d91": 91}
    rows = [row(name, amount="10.00", issue="2026-01-01",
                due=(ON - dt.timedelta(days=days)).isoformat(), document_type="")
            for name, days in late.items()]
    rows.append(row("credit", amount="-3.00", issue="2026-11-01", due="2026-11-01",
                    document_type="credit_note"))
    rows.append(row("future", amount="99.00", issue="2026-11-23", due="2026-12-23",
                    document_type=""))
    import_invoices(store, write_csv(tmp_path / "edges.csv", rows), today=ON)
    report = aged(store, by="debtor")
    assert len(report.lines) == 1
    line = report.lines[0]
    assert (line.key, line.label) == ("F-1", "Salon Lyon")
    # due today: not due; 1 and 30 days: 1–30 (less the credit note, 21 days old); ...
    assert line.buckets == (1000, 2000 - 300, 2000, 2000, 1000)
    assert line.invoices == 9
    assert aged(store, on=dt.date(2026, 12, 31)).totals[0].invoices == 10


def test_one_invoice_falls_in_the_bucket_the_aged_balance_puts_it_in(store: Store,
                                                                     tmp_path: Path) -> None:
    # The case screen ages one invoice at a time with `bucket_index`; the aged balance
    # sums in SQL. A debtor per invoice shows where the SQL put each one.
    days_late = [-5, 0, 1, 30, 31, 60, 61, 90, 91, 400]
    rows = [row(f"E{days}", ref=f"D{days}", name=f"late {days}", amount="10.00",
                issue="2025-01-01", due=(ON - dt.timedelta(days=days)).isoformat(),
                document_type="")
            for days in days_late]
    import_invoices(store, write_csv(tmp_path / "each.csv", rows), today=ON)
    in_sql = {line.key: line.buckets.index(1000) for line in aged(store, by="debtor").lines}
    one_by_one = {f"D{days}": bucket_index(ON - dt.timedelta(days=days), ON)
                  for days in days_late}
    assert one_by_one == in_sql
    assert [BUCKET_TITLES[one_by_one[f"D{days}"]] for days in (0, 1, 31, 61, 91)] == [
        "not due", "1–30 d", "31–60 d", "61–90 d", "> 90 d"]


@pytest.mark.parametrize(("by", "keys"), [
    ("creditor", {"JCDA"}),
    ("sales_rep", {"alice", "bruno", "chloe"}),
    ("country", {"FR", "BE", "CH"}),
    ("currency", {"EUR", "CHF"}),
])
def test_other_groupings(store: Store, examples_dir: Path, by: str, keys: set[str]) -> None:
    import_invoices(store, examples_dir / "invoices.csv", today=ON)
    report = aged(store, by=by)
    assert {line.key for line in report.lines} == keys
    assert sum(line.total for line in report.lines if line.currency == "EUR") == 2_971_080


def test_dso_is_open_balance_over_the_last_90_days_sales(store: Store, tmp_path: Path) -> None:
    rows = [row("S-1", amount="900.00", issue="2026-10-01", due="2026-10-31", paid="600.00"),
            row("S-2", amount="900.00", issue="2026-07-01", due="2026-07-31")]
    import_invoices(store, write_csv(tmp_path / "dso.csv", rows), today=ON)
    # open 300 + 900 = 1200 over 90 days of sales of 900: 120 days
    assert aged(store).dso == {"EUR": Decimal("120.0")}



def test_report_aged_exports_neutralise_formulas_and_keep_amounts_numeric(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row("R-1", ref="=cmd|' /C calc'!A0", name='=HYPERLINK("http://evil")',
                amount="1 250,00", segment="@sum(1)"),
            row("R-2", ref="+1", name="-2", amount="120,00", document_type="credit_note",
                segment="@sum(1)")]
    rows[0]["document_type"] = ""
    path = write_csv(tmp_path / "evil.csv", rows)
    ws = str(tmp_path)
    assert run(capsys, "-w", ws, "import", "invoices", str(path))[0] == 0

    code, out, _ = run(capsys, "-w", ws, "report", "aged", "--by", "debtor", "--on",
                       "2026-11-22", "--format", "csv", "--dialect", "rfc4180")
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0][:3] == ["debtor", "name", "currency"]
    by_key = {line[0]: line for line in table[1:]}
    assert by_key["'=cmd|' /C calc'!A0"][1] == "'=HYPERLINK(\"http://evil\")"
    assert by_key["'+1"][1] == "'-2"
    assert by_key["'+1"][-2] == "-120.00"

    target = tmp_path / "aged.xlsx"
    code, _, _ = run(capsys, "-w", ws, "report", "aged", "--by", "segment", "--on",
                     "2026-11-22", "--format", "xlsx", "--output", str(target))
    assert code == 0
    from openpyxl import load_workbook

    sheet = load_workbook(target).active
    values = [[cell.value for cell in line] for line in sheet.iter_rows()]
    assert values[1][0] == "'@sum(1)"
    assert sheet.cell(row=2, column=1).data_type == "s"
    assert isinstance(values[1][8], (int, float)) and values[1][8] == 1130
    # Only the total line holds formulas (its sums); no text cell is one.
    formulas = {cell.row for line in sheet.iter_rows() for cell in line
                if cell.data_type == "f"}
    assert formulas == {3} and values[2][0] == "total"

    code, out, _ = run(capsys, "-w", ws, "report", "aged", "--on", "2026-11-22")
    assert code == 0 and "1,130.00" in out
    code, out, _ = run(capsys, "-w", ws, "--json", "report", "aged", "--on", "2026-11-22")
    assert json.loads(out)["totals"][0]["total"] == "1130.00"
    code, _, err = run(capsys, "-w", ws, "report", "aged", "--by", "colour")
    assert code == 2 and "--by colour: choose one of" in err
