"""A debtor's account with every kind of movement, in a real store, and the command line
pointed at it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from relance.kernel.money import Money
from relance.store.book import record_payment, reverse_payment
from relance.store.db import Store, open_store
from relance.store.models import Creditor, Debtor, Invoice
from tests.cli import run_cli

ON = dt.date(2026, 11, 22)


def logo_png() -> bytes:
    """A red and blue banner: the creditor's logo, which the statement prints like the
    letters do (its colours are looked for on the rendered page)."""
    from PIL import Image

    image = Image.new("RGB", (240, 60), (200, 20, 30))
    image.paste((20, 40, 160), (120, 0, 240, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Books:
    root: Path
    cli_url: str
    store: Store
    debtors: dict[str, int]
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_cli(self.capsys, "--db", self.cli_url, "-w", str(self.root), *args)


def _invoice(session: Session, debtor: Debtor, number: str, amount: str, issue: str,
             due: str, currency: str = "EUR", paid: str = "0") -> Invoice:
    minor = int(Decimal(amount) * 100)
    paid_minor = int(Decimal(paid) * 100)
    invoice = Invoice(creditor_id=debtor.creditor_id, debtor_id=debtor.id, number=number,
                      issue_date=dt.date.fromisoformat(issue),
                      due_date=dt.date.fromisoformat(due), currency=currency,
                      amount_minor=minor, paid_minor=paid_minor,
                      balance_minor=minor - paid_minor,
                      # the day the ERP's figures came in (an import's paid part is dated so)
                      created_at=dt.datetime(2026, 11, 1, 8, 0))
    session.add(invoice)
    session.flush()
    return invoice


def _pay(session: Session, debtor: Debtor, amount: str, on: str, reference: str,
         invoices: list[tuple[Invoice, str]] | None, *, credit_note: bool = False,
         currency: str = "EUR") -> int:
    from relance.store.models import PaymentKind

    payment = record_payment(
        session, creditor_id=debtor.creditor_id, debtor_id=debtor.id,
        amount=Money.of(amount, currency), received_on=dt.date.fromisoformat(on),
        reference=reference, actor="test",
        allocations=None if invoices is None else [
            (invoice.id, int(Decimal(share) * 100)) for invoice, share in invoices],
        kind=PaymentKind.CREDIT_NOTE if credit_note else PaymentKind.PAYMENT, today=ON)
    return payment.id


def build_accounts(session: Session) -> dict[str, int]:
    """Salon Lyon's account as of 22/11/2026 (statement window from 24/08/2026):

    EUR  F-100 1 200,00 (June) paid by VIR-1 in July: settled long ago, brought forward
         F-101 1 500,00 due 01/10, 500,00 paid by VIR-2: open, overdue 1 000,00
         F-102   800,00 due 01/12: open, not due; VIR-3 200,00 on it, then reversed
         F-103   300,00 settled by credit note AV-7 on 20/09: recently settled
         F-104  -120,00 a credit note invoice, unused
         VIR-4    50,00 received on 10/11 that no invoice took
         balance: 1 000 + 800 - 120 - 50 = 1 630,00
    CHF  F-200 1 000,00 due 15/10, of which 250,00 paid per the ERP's import
    """
    creditor = Creditor(code="JCDA", name="Jean Coutu Diffusion",
                        address="12 rue de la République\n69002 Lyon", siren="552100554",
                        vat_number="FR40552100554", phone="04 78 00 00 00",
                        email="compta@jcd.example", logo_path="logo.png")
    session.add(creditor)
    session.flush()
    lyon = Debtor(creditor_id=creditor.id, ref="F-1", name="Salon Lyon", segment="franchisee",
                  address="4 place Bellecour\n69002 Lyon", language="fr")
    evil = Debtor(creditor_id=creditor.id, ref="=cmd|' /C calc'!A0",
                  name='=HYPERLINK("http://evil")', segment="@sum(1)")
    session.add_all([lyon, evil])
    session.flush()
    f100 = _invoice(session, lyon, "F-100", "1200.00", "2026-06-01", "2026-07-01")
    f101 = _invoice(session, lyon, "F-101", "1500.00", "2026-09-01", "2026-10-01")
    f102 = _invoice(session, lyon, "F-102", "800.00", "2026-11-01", "2026-12-01")
    f103 = _invoice(session, lyon, "F-103", "300.00", "2026-08-01", "2026-09-01")
    _invoice(session, lyon, "F-104", "-120.00", "2026-10-20", "2026-10-20")
    _invoice(session, lyon, "F-200", "1000.00", "2026-09-15", "2026-10-15", "CHF",
             paid="250.00")
    _invoice(session, evil, "-2+3", "99.90", "2026-10-01", "2026-10-31")
    _pay(session, lyon, "1200.00", "2026-07-10", "VIR-1", [(f100, "1200.00")])
    _pay(session, lyon, "500.00", "2026-10-15", "VIR-2", [(f101, "500.00")])
    _pay(session, lyon, "300.00", "2026-09-20", "AV-7", [(f103, "300.00")], credit_note=True)
    bounced = _pay(session, lyon, "200.00", "2026-11-02", "VIR-3", [(f102, "200.00")])
    reverse_payment(session, bounced, on=dt.date(2026, 11, 5), reason="returned direct debit",
                    actor="test", today=ON)
    _pay(session, lyon, "50.00", "2026-11-10", "VIR-4", [])
    return {"lyon": lyon.id, "evil": evil.id}


@pytest.fixture
def books(db_url: tuple[str, str | None], tmp_path: Path,
          capsys: pytest.CaptureFixture[str]) -> Iterator[Books]:
    url, schema = db_url
    store = open_store(url, schema=schema)
    with store.transaction() as session:
        debtors = build_accounts(session)
    (tmp_path / "logo.png").write_bytes(logo_png())
    (tmp_path / "relance.toml").write_text('[ui]\nlanguage = "en"\n', encoding="utf-8")
    # The command line reaches the test's PostgreSQL schema through the URL.
    cli_url = url if schema is None else (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield Books(tmp_path, cli_url, store, debtors, capsys)
    finally:
        store.dispose()
