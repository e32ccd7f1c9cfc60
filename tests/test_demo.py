"""`relance demo` end to end on a temporary folder, and its portfolio on both databases."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from relance.demo.portfolio import HEADER, portfolio_rows, write_portfolio
from relance.engine.aging import aged_balance
from relance.store.db import Store, open_store
from relance.store.importing import import_invoices
from relance.store.models import Creditor, Debtor, Invoice
from tests.cli import run_cli as run

ON = dt.date(2026, 11, 22)



def test_demo_builds_a_fresh_workspace_and_summarises_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "relance-demo"
    code, out, err = run(capsys, "demo", str(folder), "--on", ON.isoformat())
    assert (code, err) == (0, "")
    assert (folder / "relance.toml").is_file() and (folder / "rules").is_dir()
    assert "Bellerose Beauté SAS" in out
    assert "Aged balance on 2026-11-22 by segment" in out
    assert "relance tui" in out
    store = open_store(f"sqlite:///{folder / 'relance.sqlite'}")
    try:
        with store.transaction() as session:
            creditor = session.execute(select(Creditor)).scalar_one()
            assert creditor.late_penalties and creditor.iban and creditor.siren
            # The penalty clause goes to business debtors only (`channels.legal`).
            assert "L441-10" in creditor.settings["legal_mentions_b2b"]
            assert "L441-10" not in creditor.legal_mentions
            segments = dict(session.execute(
                select(Debtor.segment, func.count()).group_by(Debtor.segment)).all())
            assert segments["franchisee"] == 300
            assert set(segments) == {"franchisee", "key_account", "smb", "individual",
                                     "public_body"}
            consumers = session.execute(select(func.count()).where(
                Debtor.is_consumer)).scalar_one()
            assert consumers == segments["individual"]
            currencies = set(session.execute(select(Invoice.currency).distinct()).scalars())
            assert currencies == {"EUR", "CHF"}
            report = aged_balance(session, on=ON, by="segment")
            first = {line.currency: line.total for line in report.totals}
    finally:
        store.dispose()
    # Each EUR total of the table is printed to the cent.
    for total in report.totals:
        amount = f"{Decimal(total.total) / 100:,.2f}"
        assert amount in out

    # Again, with --json: the folder is wiped and rebuilt, the same book comes out.
    code, out, _ = run(capsys, "--json", "demo", str(folder), "--on", ON.isoformat())
    assert code == 0
    document = json.loads(out)
    assert document["import"]["created"] == document["book"]["invoices"]
    assert {line["currency"]: int(Decimal(line["total"]) * 100)
            for line in document["aged_balance"]["totals"]} == first
    book = document["book"]
    assert book["paid"] > 0 and book["partly_paid"] > 0 and book["disputed"] > 0
    assert book["paused_debtors"] > 0 and book["open_promises"] > 0

    # The run queued work for every kind of desk, and what needed no approval went out.
    run_report = document["run"]
    assert run_report["date"] == ON.isoformat() and run_report["actions_created"] > 0
    assert {"letter", "email", "call", "escalate"} <= set(run_report["by_channel"])
    assert run_report["actions_proposed"] >= run_report["by_channel"]["escalate"] > 0
    sent = document["dispatch"]
    assert sent["sent"] > 0 and sent["failed"] == 0 and sent["errors"] == []
    letters = sorted((folder / "outbox" / "letters" / ON.isoformat()).glob("*-amiable_2.pdf"))
    emails = sorted((folder / "outbox" / "emails" / ON.isoformat()).glob("*.eml"))
    assert letters and emails and sent["batch"] and Path(sent["batch"]).is_file()
    letter = " ".join(" ".join(page.extract_text() or "" for page in
                               PdfReader(str(letters[0])).pages).split())
    assert "Bellerose Beauté SAS" in letter and "IBAN" in letter and "Reste dû" in letter
    message = BytesParser(policy=email_policy.default).parse(emails[0].open("rb"))
    assert str(message["From"]).endswith("@bellerose.example.fr>")
    assert any(part.get_content_type() == "application/pdf" for part in message.walk())


def test_demo_refuses_a_folder_that_is_not_a_demo(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    code, _, err = run(capsys, "demo", str(tmp_path))
    assert code == 2 and "not empty and not a demo workspace" in err
    assert (tmp_path / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_the_portfolio_is_deterministic_and_imports_on_both_databases(
        store: Store, tmp_path: Path) -> None:
    assert portfolio_rows(ON, 7) == portfolio_rows(ON, 7)
    assert portfolio_rows(ON, 7) != portfolio_rows(ON, 8)
    path = tmp_path / "invoices.csv"
    count = write_portfolio(path, ON, 7)
    report = import_invoices(store, path, today=ON)
    assert report.created == count and 2500 < count < 6000
    assert report.warnings == []
    # The open balance per currency, summed independently from the rows themselves.
    expected: dict[str, int] = {}
    column = {name: index for index, name in enumerate(HEADER)}
    for cells in portfolio_rows(ON, 7):
        amount = int(Decimal(cells[column["amount"]].replace("\u202f", "")
                             .replace(",", ".")) * 100)
        paid = int(Decimal(cells[column["paid_amount"]]) * 100)
        currency = cells[column["currency"]]
        expected[currency] = expected.get(currency, 0) + amount - paid
    with store.transaction() as session:
        report_aged = aged_balance(session, on=ON, by="segment")
    assert {line.currency: line.total for line in report_aged.totals} == expected
