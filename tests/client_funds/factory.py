"""A creditor under a collection firm's mandate, debtors whose cases the firm holds, and
a workspace with its `[agency]`: what the client-funds tests start from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.kernel.workspace import Workspace
from relance.store import book
from relance.store.db import Store
from relance.store.models import (
    Creditor,
    Debtor,
    Invoice,
    Mandate,
    MandateCase,
    MandateScope,
    Payment,
)

OPENED = dt.date(2026, 3, 2)
MANAGER = Actor("claire", Role.CREDIT_MANAGER)
OPERATOR = Actor("bruno", Role.OPERATOR)

AGENCY = {
    "name": "Cabinet Durand Recouvrement",
    "siren": "732829320",
    "address": "8 quai Saint-Vincent\n69001 Lyon",
    "email": "contact@durand-recouvrement.fr",
    "insurer": "MMA IARD",
    "insurance_policy": "RCP-114-2026",
    "funds_iban": "FR7630004000031234567890143",
    "funds_bic": "BNPAFRPPXXX",
}


def make_workspace(root: Path, **tables: Any) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    config: dict[str, Any] = {"agency": dict(AGENCY), **tables}
    return Workspace(root, config)


def write_toml(root: Path) -> None:
    """`relance.toml` for a command run in `root`: the firm, and who is who."""
    agency = "\n".join(f'{key} = """{value}"""' for key, value in AGENCY.items())
    (root / "relance.toml").write_text(
        f"[workspace]\n\n[agency]\n{agency}\n\n"
        "[users]\nclaire = \"credit_manager\"\nbruno = \"operator\"\n",
        encoding="utf-8")


def db_option(db_url: tuple[str, str | None]) -> str:
    """The `--db` of a command reaching the test's database (its schema on PostgreSQL)."""
    url, schema = db_url
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


@dataclass
class Firm:
    creditor_id: int
    mandate_id: int
    debtors: dict[str, int] = field(default_factory=dict)
    invoices: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)


def add_creditor(session: Session, code: str = "ACME", **kw: Any) -> Creditor:
    values: dict[str, Any] = dict(
        code=code, name="Acme Distribution SAS", address="12 rue des Tanneurs\n69002 Lyon",
        siren="552100554", iban="FR7630006000011234567890189", bic="AGRIFRPPXXX",
        email="recouvrement@acme-distribution.fr", contact_email="compta@acme-distribution.fr",
        languages=["fr"])
    values.update(kw)
    creditor = Creditor(**values)
    session.add(creditor)
    session.flush()
    return creditor


def add_mandate(session: Session, creditor: Creditor, *, fee_percent: str = "12.5",
                fixed_fee_minor: int = 5_000, remit_within_days: int = 30,
                reference: str | None = None, currency: str = "EUR") -> Mandate:
    mandate = Mandate(
        creditor_id=creditor.id, reference=reference or f"MD-{creditor.code}-2026",
        signed_on=dt.date(2026, 1, 5), scope=MandateScope.AMICABLE, fee_percent=fee_percent,
        fixed_fee_minor=fixed_fee_minor, currency=currency,
        remit_within_days=remit_within_days, starts_on=dt.date(2026, 1, 5),
        recorded_by="claire")
    session.add(mandate)
    session.flush()
    return mandate


def add_debtor(session: Session, creditor: Creditor, ref: str, *,
               email: str | None = "", language: str = "fr") -> Debtor:
    debtor = Debtor(creditor_id=creditor.id, ref=ref, name=f"Boulangerie {ref}",
                    email=f"{ref.lower()}@client.example" if email == "" else email,
                    address=f"Boulangerie {ref}\n3 place du Marché\n13001 Marseille",
                    language=language)
    session.add(debtor)
    session.flush()
    return debtor


def add_invoice(session: Session, debtor: Debtor, number: str, amount_minor: int,
                currency: str = "EUR") -> Invoice:
    due = dt.date(2026, 1, 15)
    invoice = Invoice(creditor_id=debtor.creditor_id, debtor_id=debtor.id, number=number,
                      issue_date=due - dt.timedelta(days=30), due_date=due,
                      currency=currency, amount_minor=amount_minor,
                      balance_minor=amount_minor)
    session.add(invoice)
    session.flush()
    return invoice


def open_case(session: Session, mandate: Mandate, debtor: Debtor,
              on: dt.date = OPENED) -> MandateCase:
    number = session.query(MandateCase).filter_by(mandate_id=mandate.id).count() + 1
    case = MandateCase(mandate_id=mandate.id, creditor_id=mandate.creditor_id,
                       debtor_id=debtor.id, opened_on=on,
                       reference=f"{mandate.reference}/{number:04d}")
    session.add(case)
    session.flush()
    return case


def build_firm(store: Store, *, fee_percent: str = "12.5", fixed_fee_minor: int = 5_000,
               debtors: int = 2, remit_within_days: int = 30, code: str = "ACME") -> Firm:
    """One creditor with a mandate; `debtors` debtors (D-1, D-2...) each with two
    invoices (FA-n-1 of 1,000.00 EUR, FA-n-2 of 2,500.00 EUR) and a case opened on
    OPENED; a debtor D-0 whose case the firm does not hold."""
    with store.write_transaction() as session:
        creditor = add_creditor(session, code)
        mandate = add_mandate(session, creditor, fee_percent=fee_percent,
                              fixed_fee_minor=fixed_fee_minor,
                              remit_within_days=remit_within_days)
        firm = Firm(creditor.id, mandate.id)
        for n in range(debtors + 1):
            debtor = add_debtor(session, creditor, f"D-{n}")
            firm.debtors[debtor.ref] = debtor.id
            for k, amount in ((1, 100_000), (2, 250_000)):
                invoice = add_invoice(session, debtor, f"FA-{n}-{k}", amount)
                firm.invoices[invoice.number] = invoice.id
            if n:
                firm.cases[debtor.ref] = open_case(session, mandate, debtor).id
    return firm


def pay(store: Store, firm: Firm, ref: str, minor: int, on: dt.date, *,
        reference: str = "VIR", today: dt.date | None = None) -> int:
    """A payment of debtor `ref`, allocated oldest first, recorded by an operator."""
    currency = "EUR"
    with store.write_transaction() as session:
        payment = book.record_payment(
            session, creditor_id=firm.creditor_id, debtor_id=firm.debtors[ref],
            amount=Money(currency, minor), received_on=on, reference=f"{reference}-{ref}",
            actor="bruno", today=today or on)
        return payment.id


def reverse(store: Store, payment_id: int, on: dt.date) -> None:
    with store.write_transaction() as session:
        book.reverse_payment(session, payment_id, on=on, reason="cheque returned unpaid",
                             actor="bruno", today=on)


def payment(session: Session, payment_id: int) -> Payment:
    found = session.get(Payment, payment_id)
    assert found is not None
    return found
