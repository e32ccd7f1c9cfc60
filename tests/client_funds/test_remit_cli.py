"""`relance remit` and `relance funds` as a user types them: the statement PDF read
back, a second remittance of the same period that finds nothing, the ledger with what
is pending and overdue, and bad input refused with exit code 2."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select

from relance.store.db import Store
from relance.store.models import Remittance
from tests.cli import run_cli
from tests.client_funds.factory import build_firm, db_option, pay, reverse, write_toml


def day(n: int, month: int = 3) -> dt.date:
    return dt.date(2026, month, n)


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def workspace(store: Store, db_url: tuple[str, str | None], tmp_path: Path) -> list[str]:
    """A month of collections for ACME; the options that reach this workspace."""
    firm = build_firm(store, fee_percent="12.5", fixed_fee_minor=5_000)
    pay(store, firm, "D-1", 120_005, day(10))
    pay(store, firm, "D-2", 30_000, day(12))
    reverse(store, pay(store, firm, "D-2", 4_000, day(25)), day(28))
    write_toml(tmp_path)
    return ["--db", db_option(db_url), "-w", str(tmp_path)]


def test_remit_prints_the_figures_and_writes_the_statement_once(
        store: Store, workspace: list[str], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, *workspace, "--user", "claire", "remit",
                             "--creditor", "ACME", "--until", "31/03/2026",
                             "--on", "2026-04-02")
    assert code == 0, err
    out = plain(out)
    assert "REM-ACME-1 to ACME, funds booked up to 31/03/2026: collected €1,500.05, " \
           "fees €287.51 (on sums collected €187.51, fixed €100.00), net to pay " \
           "€1,212.54." in out
    pdf = tmp_path / "outbox" / "remittances" / "REM-ACME-1-EUR.pdf"
    assert f"Statement: {pdf}" in out
    with store.session() as session:
        assert session.scalars(select(Remittance.statement_path)).one() == str(pdf)
    text = plain("\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages))
    for expected in ("Remittance statement REM-ACME-1", "Cabinet Durand Recouvrement",
                     "Acme Distribution SAS", "Funds collected up to 31/03/2026",
                     "Boulangerie D-1 (D-1)", "FA-1-1, FA-1-2", "1,200.05", "-40.00",
                     "reversed", "12.50 %", "150.01", "37.50",
                     "Fees on sums collected €187.51", "Fixed fees €100.00",
                     "Total fees €287.51", "Net to pay to Acme Distribution SAS €1,212.54",
                     "FR76 3000 4000 0312 3456 7890 143"):
        assert expected in text, expected

    code, out, _ = run_cli(capsys, *workspace, "--user", "claire", "remit",
                           "--creditor", "ACME", "--until", "31/03/2026",
                           "--on", "2026-04-03")
    assert code == 0
    assert "Nothing to remit to ACME up to 31/03/2026" in out
    with store.session() as session:
        assert len(session.scalars(select(Remittance)).all()) == 1


def test_remit_json(workspace: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *workspace, "--user", "claire", "--json", "remit",
                           "--creditor", "ACME", "--until", "2026-03-31", "--on", "2026-04-02")
    assert code == 0
    made = json.loads(out)["remittances"]
    assert [(m["reference"], m["collected_minor"], m["fees_minor"], m["net_minor"])
            for m in made] == [("REM-ACME-1", 150_005, 28_751, 121_254)]
    assert made[0]["statement"].endswith("REM-ACME-1-EUR.pdf")


@pytest.mark.parametrize(("user", "args", "message"), [
    ("bruno", ["--until", "31/03/2026"], "only a credit manager can remit client funds"),
    ("claire", ["--until", "31/02/2026"], "--until: '31/02/2026' is not a day"),
    ("claire", ["--until", "30/04/2026", "--on", "2026-04-02"],
     "--until 30/04/2026 is after the remittance day 02/04/2026"),
])
def test_remit_refuses_bad_input_with_exit_2(
        workspace: list[str], capsys: pytest.CaptureFixture[str], user: str,
        args: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, *workspace, "--user", user, "remit", "--creditor", "ACME",
                           *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_remit_an_unknown_creditor(workspace: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, *workspace, "--user", "claire", "remit", "--creditor",
                           "NOPE", "--until", "31/03/2026", "--on", "2026-04-02")
    assert code == 2 and "no creditor NOPE" in err


def test_funds_lists_the_ledger_pending_and_overdue(
        workspace: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, *workspace, "--user", "bruno", "funds", "--on",
                           "2026-04-11")
    assert code == 0
    out = plain(out)
    assert "MD-ACME-2026/0001" in out and "pending" in out
    assert "Pending for ACME: €1,500.05." in out
    assert "1 payment collected and not remitted in time:" in out
    assert "ACME D-1 €1,200.05 collected on 10/03/2026, to remit by 09/04/2026: " \
           "2 days late." in out
    code, out, _ = run_cli(capsys, *workspace, "--user", "bruno", "--json", "funds",
                           "--creditor", "ACME", "--on", "2026-04-11")
    data = json.loads(out)
    assert [e["amount_minor"] for e in data["entries"]] == [120_005, 30_000, 4_000, -4_000]
    assert data["pending"] == [{"creditor": "ACME", "currency": "EUR",
                                "amount_minor": 150_005}]
    # D-2's 300.00 is due by 11/04: overdue the day after, not on the day.
    assert [(o["debtor"], o["days_late"]) for o in data["overdue"]] == [("D-1", 2)]
    run_cli(capsys, *workspace, "--user", "claire", "remit", "--creditor", "ACME",
            "--until", "31/03/2026", "--on", "2026-04-11")
    code, out, _ = run_cli(capsys, *workspace, "--user", "bruno", "funds")
    assert "Nothing pending: every entry was remitted." in out
    assert "not remitted in time" not in out
