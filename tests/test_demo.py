"""`relance demo` end to end on temporary folders, and its portfolio on both databases.

The demo is costly (its dispatch renders some 300 PDF letters and e-mails), so the module
builds it twice, once for all the tests that read it, as two real `relance` processes
running side by side: one prints the summary in a new folder, the other rebuilds, with
`--json`, a folder an earlier demo left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.demo.portfolio import HEADER, portfolio_rows, write_portfolio
from relance.demo.steps import MARKER
from relance.engine.aging import aged_balance
from relance.store.db import Store, open_store
from relance.store.importing import import_invoices
from relance.store.models import Creditor, Debtor, Invoice
from tests.cli import run_cli as run

ON = dt.date(2026, 11, 22)
RELANCE = str(Path(sys.executable).parent / "relance")
# The two builds share the machine with the rest of the suite: give them room.
BUILD_SECONDS = 1100
STALE_APPROVAL = '[approval]\nfour_eyes_above = "1 EUR"\n'

# Every test here lands on the one xdist worker that builds the demo for them all.
pytestmark = [pytest.mark.xdist_group("relance-demo"), pytest.mark.timeout(BUILD_SECONDS + 100)]


@dataclass(frozen=True)
class DemoBuilds:
    fresh: Path  # `relance demo` in a new folder...
    summary: str  # ...and what it printed
    rebuilt: Path  # `relance --json demo` over what an earlier demo left...
    document: dict[str, Any]  # ...and its JSON
    left_behind: tuple[Path, ...]  # the earlier demo's files the rebuild must not keep


def _leave_an_earlier_demo(folder: Path) -> tuple[Path, ...]:
    """What a demo built on another day leaves: its marker, a database (unreadable: the
    rebuild must replace it), a letter, an import and stricter approval settings."""
    stale = (folder / "outbox" / "letters" / "2026-01-05" / "old.pdf",
             folder / "import" / "old-invoices.csv")
    for path in (folder / "relance.sqlite", *stale):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by an earlier demo")
    (folder / "relance.toml").write_text(STALE_APPROVAL, encoding="utf-8")
    (folder / MARKER).write_text("an earlier demo\n", encoding="utf-8")
    return stale


def _relance(cwd: Path, *args: str) -> subprocess.Popen[str]:
    # The user's own settings (a database URL, a clock) must not reach the demo.
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELANCE_")}
    return subprocess.Popen([RELANCE, *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=BUILD_SECONDS)
    assert (process.returncode, err) == (0, ""), err
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoBuilds:
    root = tmp_path_factory.mktemp("demo")
    fresh, rebuilt = root / "relance-demo", root / "earlier-demo"
    rebuilt.mkdir()
    left_behind = _leave_an_earlier_demo(rebuilt)
    day = ("--on", ON.isoformat())
    printing = _relance(root, "demo", str(fresh), *day)
    rebuilding = _relance(root, "--json", "demo", str(rebuilt), *day)
    summary, document = _finish(printing), json.loads(_finish(rebuilding))
    return DemoBuilds(fresh, summary, rebuilt, document, left_behind)


@contextmanager
def demo_book(folder: Path) -> Iterator[Session]:
    store = open_store(f"sqlite:///{folder / 'relance.sqlite'}")
    try:
        with store.transaction() as session:
            yield session
    finally:
        store.dispose()


def open_balance(folder: Path) -> dict[str, int]:
    """The demo book's open balance per currency, in minor units."""
    with demo_book(folder) as session:
        report = aged_balance(session, on=ON, by="segment")
    return {line.currency: line.total for line in report.totals}


def documents_sent(folder: Path) -> list[str]:
    """The outbox's letters and e-mails by folder, invoice and template: their names
    less the action number (the order actions are numbered in may vary between builds)
    and the print batches (named after the clock)."""
    outbox = folder / "outbox"
    return sorted(f"{path.parent.relative_to(outbox)}/{path.name.partition('-')[2]}"
                  for path in outbox.rglob("*")
                  if path.is_file() and not path.name.startswith("batch-"))


def amounts_in(text: str) -> set[Decimal]:
    """Every amount to the cent in `text`, whatever separates its thousands."""
    found = re.finditer(r"(?<!\d)\d+(?:[ ,'\u2019\u00a0\u202f]\d{3})*[.,]\d{2}(?!\d)", text)
    return {Decimal(re.sub(r"\D", "", match.group())) / 100 for match in found}


@pytest.mark.slow
def test_the_demo_prints_its_book_to_the_cent_and_where_to_go_next(demo: DemoBuilds) -> None:
    assert (demo.fresh / "relance.toml").is_file() and (demo.fresh / "rules").is_dir()
    assert "Bellerose Beauté SAS" in demo.summary
    assert "Aged balance on 22/11/2026 by segment" in demo.summary
    assert "relance tui" in demo.summary
    totals = open_balance(demo.fresh)
    assert set(totals) == {"EUR", "CHF"}
    assert {Decimal(total) / 100 for total in totals.values()} <= amounts_in(demo.summary)


@pytest.mark.slow
def test_the_demo_book_has_a_branded_creditor_and_every_kind_of_debtor(
        demo: DemoBuilds) -> None:
    with demo_book(demo.fresh) as session:
        creditor = session.execute(
            select(Creditor).where(Creditor.code == "BELLEROSE")).scalar_one()
        assert creditor.late_penalties and creditor.iban and creditor.siren
        # The penalty clause goes to business debtors only (`channels.legal`).
        assert "L441-10" in creditor.settings["legal_mentions_b2b"]
        assert "L441-10" not in creditor.legal_mentions
        segments = dict(session.execute(
            select(Debtor.segment, func.count()).group_by(Debtor.segment)).all())
        assert segments["franchisee"] == 300
        # "trade": the customers of the firm's second client company (demo/agency_book.py).
        assert set(segments) == {"franchisee", "key_account", "smb", "individual",
                                 "public_body", "trade"}
        consumers = session.execute(select(func.count()).where(
            Debtor.is_consumer)).scalar_one()
        assert consumers == segments["individual"]
        currencies = set(session.execute(select(Invoice.currency).distinct()).scalars())
        assert currencies == {"EUR", "CHF"}


@pytest.mark.slow
def test_a_rebuilt_demo_keeps_nothing_of_the_earlier_one_and_comes_out_the_same(
        demo: DemoBuilds) -> None:
    assert [path for path in demo.left_behind if path.exists()] == []
    assert STALE_APPROVAL not in (demo.rebuilt / "relance.toml").read_text(encoding="utf-8")
    document = demo.document
    # The book: Bellerose's import and the firm's second client's.
    assert (document["import"]["created"] + document["client"]["invoices"]
            == document["book"]["invoices"])
    assert {line["currency"]: int(Decimal(line["total"]) * 100)
            for line in document["aged_balance"]["totals"]} == open_balance(demo.fresh)
    book = document["book"]
    assert book["paid"] > 0 and book["partly_paid"] > 0 and book["disputed"] > 0
    assert book["paused_debtors"] > 0 and book["open_promises"] > 0

    assert documents_sent(demo.rebuilt) == documents_sent(demo.fresh)


@pytest.mark.slow
def test_the_demo_run_queued_work_for_every_desk_and_sent_what_needed_no_approval(
        demo: DemoBuilds) -> None:
    run_report = demo.document["run"]
    assert run_report["date"] == ON.isoformat() and run_report["actions_created"] > 0
    assert {"letter", "email", "call", "escalate"} <= set(run_report["by_channel"])
    assert run_report["actions_proposed"] >= run_report["by_channel"]["escalate"] > 0
    sent = demo.document["dispatch"]
    assert sent["sent"] > 0 and sent["failed"] == 0 and sent["errors"] == []
    outbox = demo.rebuilt / "outbox"
    letters = sorted((outbox / "letters" / ON.isoformat()).glob("*-amiable_2.pdf"))
    # A reminder to a debtor (internal alerts to colleagues carry no letter).
    emails = sorted((outbox / "emails" / ON.isoformat()).glob("*-relance_1.eml"))
    assert letters and emails and sent["batch"] and Path(sent["batch"]).is_file()
    pdf = pdfium.PdfDocument(letters[0])
    try:
        letter = " ".join(" ".join(page.get_textpage().get_text_range() for page in pdf).split())
    finally:
        pdf.close()
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


def pdf_text(path: Path) -> str:
    pdf = pdfium.PdfDocument(path)
    try:
        return " ".join(" ".join(page.get_textpage().get_text_range() for page in pdf).split())
    finally:
        pdf.close()


@pytest.mark.slow
def test_the_firm_takes_one_case_under_mandate_writes_by_the_law_and_remits(
        demo: DemoBuilds) -> None:
    mandate = demo.document["mandate"]
    assert mandate["case"] == "MDT-2026-014/0001" and mandate["failed"] == 0
    outbox = demo.rebuilt / "outbox"
    [first] = sorted((outbox / "letters" / ON.isoformat()).glob("*-VERCORS-CHARTREUSE-"
                                                                 "agency_first.pdf"))
    letter = pdf_text(first)
    # R124-4: the firm and its activity, the creditor, the debt in parts, how to pay, L111-8.
    for mention in ("Cabinet Dauphiné Recouvrement SAS", "7 place Grenette",
                    "exerce une activité de recouvrement amiable",
                    "Menuiseries du Vercors SARL", "12 avenue Jean-Perrot", "Principal",
                    "Intérêts", "Autres accessoires", "FR76 1999 9000 7700 0876 5432 111",
                    "MDT-2026-014/0001", "L111-8"):
        assert mention in letter, mention
    assert {Decimal("1860.00"), Decimal("1425.60"), Decimal("926.40"),
            Decimal("4212.00")} <= amounts_in(letter)

    [remittance] = mandate["remittances"]
    assert (remittance["collected_minor"], remittance["currency"]) == (186_000, "EUR")
    # 12 % of 1 860,00 € and the fixed fee of 45,00 €; the rest goes to the creditor.
    assert (remittance["fees_minor"], remittance["net_minor"]) == (22_320 + 4_500, 159_180)
    [statement] = mandate["statements"]
    text = pdf_text(demo.rebuilt / statement)
    assert "REM-VERCORS-1" in text and "Menuiseries du Vercors SARL" in text
    assert {Decimal("1860.00"), Decimal("268.20"), Decimal("1591.80")} <= amounts_in(text)

    emails = outbox / "emails" / ON.isoformat()
    assert list(emails.glob("*-VERCORS-CHARTREUSE-quittance.eml"))
    [notice] = emails.glob("*-VERCORS-CHARTREUSE-avis_encaissement.eml")
    message = BytesParser(policy=email_policy.default).parse(notice.open("rb"))
    assert "direction@menuiseries-vercors.example.fr" in str(message["To"])

    # White label until the mandate: nothing the firm sent for a client before a case
    # was taken under mandate names it.
    for path in sorted(emails.glob("*.eml")):
        if "quittance" in path.name or "avis_encaissement" in path.name:
            continue
        message = BytesParser(policy=email_policy.default).parse(path.open("rb"))
        seen = str(message["From"]) + str(message["Reply-To"]) + "".join(
            part.get_content() for part in message.walk()
            if part.get_content_type() in ("text/plain", "text/html"))
        assert "Dauphiné" not in seen and "dauphine-recouvrement" not in seen, path.name
    for path in sorted((outbox / "letters" / ON.isoformat()).glob("*-amiable_2.pdf"))[:5]:
        assert "Dauphiné" not in pdf_text(path)


@pytest.mark.slow
def test_the_demo_lists_people_of_the_portal_and_leaves_the_desk_open(
        demo: DemoBuilds) -> None:
    """Two people of the web portal in the demo's relance.toml, nobody of the desk: its
    runner prints their sign-in links and works the desk as a credit manager, whatever
    their name, while the portal's people are refused at the desk."""
    assert "relance portal-link chloe" in demo.summary
    for name in ("chloe", "vercors"):
        printed = _finish(_relance(demo.fresh, "--user", "whoever", "portal-link", name))
        assert re.search(r"http://127\.0\.0\.1:8000/portal/sign-in/[A-Za-z0-9_-]{40,}",
                         printed), printed
    assert _finish(_relance(demo.fresh, "--user", "whoever", "--json", "queue")).strip()
    refused = _relance(demo.fresh, "--user", "chloe", "queue")
    _out, err = refused.communicate(timeout=120)
    assert refused.returncode == 2
    assert "chloe" in err and "relance web" in err and "Traceback" not in err
