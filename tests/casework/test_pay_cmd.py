"""`relance pay` as a user types it: balances move, bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relance.store.db import open_store
from relance.store.models import Invoice, InvoiceStatus
from tests.casework.factory import build_book
from tests.cli import run_cli as _run


def _workspace(tmp_path: Path, users: str = "") -> str:
    (tmp_path / "relance.toml").write_text(f"[users]\n{users}\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'relance.sqlite'}"
    store = open_store(url)
    with store.transaction() as session:
        build_book(session)
    store.dispose()
    return url



def _balance(url: str, number: str) -> tuple[int, InvoiceStatus]:
    store = open_store(url)
    with store.session() as session:
        invoice = session.query(Invoice).filter_by(number=number).one()
        result = invoice.balance_minor, invoice.status
    store.dispose()
    return result


def test_partial_then_full_payment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _workspace(tmp_path)
    code, out, _ = _run(capsys, "-w", str(tmp_path), "--user", "bruno", "pay", "FA-1",
                        "1 000,00", "--date", "21/11/2026", "--reference", "VIR 42")
    assert code == 0 and "balance now €250.00" in out
    assert _balance(url, "FA-1") == (25_000, InvoiceStatus.OPEN)
    code, out, _ = _run(capsys, "-w", str(tmp_path), "--json", "pay", "FA-1", "250.00")
    assert code == 0
    assert json.loads(out)["status"] == "paid"
    assert _balance(url, "FA-1") == (0, InvoiceStatus.PAID)


@pytest.mark.parametrize(("args", "message"), [
    (["pay", "FA-404", "10"], "no invoice FA-404"),
    (["pay", "FA-1", "douze"], "amount 'douze'"),
    (["pay", "FA-1", "0"], "must be positive"),
    (["pay", "FA-1", "10", "--date", "31/02/2026"],
     "--date: '31/02/2026' is not a day of the calendar"),
    (["pay", "FA-1", "10 CHF"], "expected EUR"),
])
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           args: list[str], message: str) -> None:
    url = _workspace(tmp_path)
    code, _, err = _run(capsys, "-w", str(tmp_path), *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert _balance(url, "FA-1") == (125_000, InvoiceStatus.OPEN)


def test_unknown_and_auditor_users(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _workspace(tmp_path, 'alice = "credit_manager"\ncarla = "auditor"')
    code, _, err = _run(capsys, "-w", str(tmp_path), "--user", "mallory", "pay", "FA-1", "10")
    assert code == 2 and "mallory" in err
    code, _, err = _run(capsys, "-w", str(tmp_path), "--user", "carla", "pay", "FA-1", "10")
    assert code == 2 and "auditor" in err
    assert _balance(url, "FA-1") == (125_000, InvoiceStatus.OPEN)
