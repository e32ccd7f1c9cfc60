"""`relance import invoices` as a user runs it: messages, exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import run_cli as run
from tests.importing.conftest import row, write_csv


def test_import_prints_counts_and_a_second_import_changes_nothing(
        tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path)
    code, out, _ = run(capsys, "-w", ws, "import", "invoices", str(examples_dir / "invoices.csv"))
    assert code == 0
    assert "10 rows — 10 created, 0 updated, 0 unchanged" in out
    code, out, _ = run(capsys, "-w", ws, "--json", "import", "invoices",
                       str(examples_dir / "invoices.csv"))
    assert code == 0
    report = json.loads(out)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 10)
    assert report["warnings"] == []


def test_a_refused_file_exits_2_naming_rows_and_columns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row(f"A-{n}") for n in range(1, 7)]
    rows[2]["due_date"] = "2026-02-30"
    rows[5]["amount"] = "-5"
    path = write_csv(tmp_path / "invoices.csv", rows)
    code, out, err = run(capsys, "-w", str(tmp_path), "import", "invoices", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith("relance: invoices.csv: refused, nothing was imported (2 errors):")
    assert "invoices.csv: row 4, column due_date:" in err
    assert "invoices.csv: row 7, column amount:" in err
    assert "Traceback" not in err
    code, out, _ = run(capsys, "-w", str(tmp_path), "--json", "import", "invoices", str(path))
    assert code == 2
    document = json.loads(out)
    assert document["refused"] is True and len(document["errors"]) == 2
    code, out, _ = run(capsys, "-w", str(tmp_path), "--json", "report", "aged")
    assert json.loads(out)["lines"] == []  # nothing was stored


def test_a_bad_mapping_file_or_a_missing_file_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "invoices.csv", [row("A-1")])
    (tmp_path / "map.toml").write_text('decimal_mark = ";"\n', encoding="utf-8")
    code, _, err = run(capsys, "-w", str(tmp_path), "import", "invoices", str(path),
                       "--mapping", str(tmp_path / "map.toml"))
    assert (code, err.strip()) == (2, f"relance: {tmp_path / 'map.toml'}: decimal_mark must "
                                      'be "." or ","')
    (tmp_path / "map.toml").write_text('[columns]\n"X" = "amout"\n', encoding="utf-8")
    code, _, err = run(capsys, "-w", str(tmp_path), "import", "invoices", str(path),
                       "--mapping", str(tmp_path / "map.toml"))
    assert code == 2 and "maps to 'amout', which is not a canonical column" in err
    code, _, err = run(capsys, "-w", str(tmp_path), "import", "invoices",
                       str(tmp_path / "nope.csv"))
    assert code == 2 and "nope.csv: no such file" in err


def test_import_payments_reports_what_it_recorded(
        tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path)
    run(capsys, "-w", ws, "import", "invoices", str(examples_dir / "invoices.csv"))
    path = tmp_path / "payments.csv"
    path.write_text("creditor,invoice_number,date,amount,currency,reference\n"
                    "JCDA,FA-2026-0001,2026-11-20,1 250,00,EUR,VIR-1\n", encoding="utf-8")
    code, out, err = run(capsys, "-w", ws, "import", "payments", str(path))
    # An unquoted "1 250,00" in a comma-separated file makes a seventh cell.
    assert code == 2
    assert "payments.csv: row 2: has 7 cells but the header has 6 columns" in err
    path.write_text("creditor;invoice_number;date;amount;currency;reference\n"
                    "JCDA;FA-2026-0001;2026-11-20;1 250,00;EUR;VIR-1\n", encoding="utf-8")
    code, out, _ = run(capsys, "-w", ws, "import", "payments", str(path))
    assert code == 0
    assert "(csv): 1 recorded, 0 already imported, 0 in suspense" in out
    code, out, _ = run(capsys, "-w", ws, "--json", "import", "payments", str(path))
    assert json.loads(out)["already_imported"] == 1
