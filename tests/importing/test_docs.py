"""The examples of docs/import.md work as the text says."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from relance.store.db import Store
from relance.store.importing import ImportRefused, import_invoices, load_mapping
from tests.importing.conftest import invoices, row, write_csv

DOC = Path(__file__).resolve().parents[2] / "docs" / "import.md"


def blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_mapping_example_imports_the_export_example(store: Store, tmp_path: Path) -> None:
    (mapping_text,) = blocks("toml")
    (export,) = blocks("csv")
    (tmp_path / "sage.toml").write_text(mapping_text, encoding="utf-8")
    (tmp_path / "export.csv").write_text(export, encoding="utf-8")
    report = import_invoices(store, tmp_path / "export.csv",
                             mapping=load_mapping(tmp_path / "sage.toml"),
                             today=dt.date(2026, 11, 22))
    assert (report.created, report.debtors_created) == (3, 2)
    book = invoices(store)
    assert book["VT-0001"]["amount_minor"] == 125_000
    assert book["VT-0002"]["balance_minor"] == 0
    assert book["VT-0003"]["balance_minor"] == 1_000_000
    assert book["VT-0003"]["attrs"] == {"agence": "Nantes"}


def test_the_error_example_is_what_the_import_says(store: Store, tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = [row(f"A-{n}") for n in range(1, 7)]
    rows[2]["due_date"] = "31/02/2026"
    rows[5]["amount"] = "-50,00"
    try:
        import_invoices(store, write_csv(tmp_path / "invoices.csv", rows))
    except ImportRefused as refused:
        assert f"relance: {refused.message}\n" in text
    else:
        raise AssertionError("the file was not refused")
