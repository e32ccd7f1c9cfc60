"""A collection firm's book for the portal's pages, and the people who read it.

Two creditors (ACME, BELLEROSE), two sales reps: Sofia's debtors are ACME's Boulangerie
Sofia (two late invoices, one disputed, reminded by a letter) and BELLEROSE's Épicerie;
Paul's is ACME's Garage Paul. ACME signed a mandate, its Boulangerie is a case of the
firm, and one remittance was paid to it. The `acme` client company sees ACME only.

`history_book` adds a year of invoices and payments (a fixed seed) so that the
dashboard's twelve months have something to show (the screenshots).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relance.engine.portal_sign_in import open_session
from relance.store.db import Store
from relance.store.models import (
    ActionState,
    InvoiceStatus,
    Mandate,
    MandateCase,
    MandateScope,
    Payment,
    PaymentAllocation,
    Promise,
    Remittance,
    utcnow,
)
from relance.web.portal_people import session_cookie_name
from tests.channels.factory import TODAY, add_action, add_creditor, add_debtor, add_invoice
from tests.web.conftest import WebServer, running_server

SOFIA_NAME = "Sofia Martin"
PAUL_NAME = "Paul Durand"
PEOPLE: dict[str, dict[str, Any]] = {
    "agency": {"name": "Cabinet Dauphiné Recouvrement SAS", "siren": "529173643",
               "address": "7 place Grenette\n38000 Grenoble",
               "email": "dossiers@dauphine-recouvrement.example",
               "insurer": "Mutuelle Alpine d'Assurances", "insurance_policy": "RCP-2026-0418",
               "funds_iban": "FR7619999000770008765432111", "funds_bic": "DPHRFRP1XXX"},
    "users.claire": {"role": "credit_manager", "email": "claire@firm.example"},
    "users.audrey": {"role": "auditor", "email": "audrey@firm.example"},
    "users.sofia": {"role": "sales_rep", "email": "sofia@firm.example",
                    "sales_rep": SOFIA_NAME},
    "users.paul": {"role": "sales_rep", "email": "paul@firm.example",
                   "sales_rep": PAUL_NAME},
    "users.acme": {"role": "client", "creditors": ["ACME"], "email": "dg@acme.example"},
}


@dataclass(frozen=True)
class PortalPagesBook:
    sofia_debtor: int  # ACME's Boulangerie Sofia (a case under mandate)
    sofia_other: int  # BELLEROSE's Épicerie, Sofia's too
    paul_debtor: int  # ACME's Garage Paul


def portal_pages_book(store: Store) -> PortalPagesBook:
    with store.transaction() as s:
        acme = add_creditor(s, "ACME")
        belle = add_creditor(s, "BELLEROSE", name="Bellerose Cosmétiques SA",
                             siren="732829320")
        bakery = add_debtor(s, acme, "C-100", name="Boulangerie Sofia", sales_rep=SOFIA_NAME)
        shop = add_debtor(s, belle, "B-7", name="Épicerie des Halles", sales_rep=SOFIA_NAME)
        garage = add_debtor(s, acme, "C-200", name="Garage Paul", sales_rep=PAUL_NAME)
        late = add_invoice(s, bakery, "FA-1001", 1_250_000, TODAY - dt.timedelta(days=45))
        add_invoice(s, bakery, "FA-1002", 310_050, TODAY - dt.timedelta(days=12),
                    dispute_reason="delivery", disputed_since=TODAY - dt.timedelta(days=5))
        add_invoice(s, bakery, "FA-1003", 99_900, TODAY + dt.timedelta(days=20))
        add_invoice(s, shop, "BL-77", 48_000, TODAY - dt.timedelta(days=95))
        garage_late = add_invoice(s, garage, "FA-2001", 777_700, TODAY - dt.timedelta(days=33))
        letter = add_action(s, bakery, [late], channel="letter", state=ActionState.SENT,
                            sent_at=dt.datetime.combine(TODAY - dt.timedelta(days=10),
                                                        dt.time(9, 30)))
        letter.created_on = TODAY - dt.timedelta(days=10)
        add_action(s, garage, [garage_late], channel="email",
                   state=ActionState.SENT, key="garage-email",
                   sent_at=dt.datetime.combine(TODAY - dt.timedelta(days=3), dt.time(8)))
        s.add(Promise(creditor_id=acme.id, debtor_id=bakery.id, promised_on=TODAY
                      + dt.timedelta(days=7), currency="EUR", amount_minor=500_000,
                      recorded_by="claire"))
        mandate = Mandate(creditor_id=acme.id, reference="MAND-ACME-1",
                          signed_on=TODAY - dt.timedelta(days=200),
                          scope=MandateScope.AMICABLE, fee_percent="10", currency="EUR",
                          starts_on=TODAY - dt.timedelta(days=200), recorded_by="claire")
        s.add(mandate)
        s.flush()
        s.add(MandateCase(mandate_id=mandate.id, creditor_id=acme.id, debtor_id=bakery.id,
                          opened_on=TODAY - dt.timedelta(days=20), reference="DRS-ACME-0001"))
        s.add(Remittance(creditor_id=acme.id, reference="REM-ACME-0001",
                         until=TODAY - dt.timedelta(days=8), made_on=TODAY - dt.timedelta(days=6),
                         currency="EUR", collected_minor=200_000, fees_minor=20_000,
                         net_minor=180_000, made_by="claire"))
        s.add(Remittance(creditor_id=belle.id, reference="REM-BELLE-0001",
                         until=TODAY - dt.timedelta(days=8), made_on=TODAY - dt.timedelta(days=6),
                         currency="EUR", collected_minor=90_000, fees_minor=0,
                         net_minor=90_000, made_by="claire"))
        s.flush()
        return PortalPagesBook(bakery.id, shop.id, garage.id)


def history_book(store: Store, debtors: int = 24, seed: int = 7) -> None:
    """A year of invoices of ACME's new debtors, most paid (some late), some still open,
    so that each month's end has its own aged balance."""
    chance = random.Random(seed)
    with store.transaction() as s:
        from sqlalchemy import select

        from relance.store.models import Creditor

        acme = s.scalars(select(Creditor).where(Creditor.code == "ACME")).one()
        for number in range(debtors):
            debtor = add_debtor(s, acme, f"H-{number:03d}", name=f"Client {number + 1:02d}",
                                sales_rep=SOFIA_NAME if number % 3 else PAUL_NAME)
            for month in range(12):
                issued = TODAY - dt.timedelta(days=30 * month + chance.randint(0, 25))
                amount = chance.randint(20, 400) * 10_000
                due = issued + dt.timedelta(days=30)
                invoice = add_invoice(s, debtor, f"H{number:03d}-{month:02d}", amount, due)
                invoice.issue_date = issued
                paid_after = chance.choice((5, 10, 15, 25, 30, 40, 60, 95, None))
                if month == 0 or paid_after is None:
                    # Still open: reminded ten days after it fell due, when that is past.
                    reminded = due + dt.timedelta(days=10)
                    if reminded < TODAY and chance.random() < 0.8:
                        action = add_action(
                            s, debtor, [invoice], channel=chance.choice(("letter", "email")),
                            state=ActionState.SENT, key=f"reminder-{invoice.number}",
                            sent_at=dt.datetime.combine(reminded, dt.time(9)))
                        action.created_on = reminded
                    continue
                received = due + dt.timedelta(days=paid_after - 20)
                if received > TODAY:
                    continue
                payment = Payment(creditor_id=acme.id, debtor_id=debtor.id,
                                  received_on=received, currency="EUR", amount_minor=amount,
                                  reference=invoice.number, recorded_by="import")
                s.add(payment)
                s.flush()
                s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id,
                                        amount_minor=amount))
                invoice.paid_minor, invoice.balance_minor = amount, 0
                invoice.status = InvoiceStatus.PAID
            if number < 4:  # what waits for the team today
                channel = "escalate" if number == 0 else "letter"
                add_action(s, debtor, [invoice], channel=channel,
                           state=ActionState.PROPOSED, key=f"history-{number}")
            if number in (5, 6):
                s.add(Promise(creditor_id=acme.id, debtor_id=debtor.id, promised_on=TODAY,
                              recorded_by="claire"))
        s.flush()


def sign_in(store: Store, user_name: str) -> str:
    """A live session's token for `user_name`, as the sign-in link would open it."""
    with store.transaction() as s:
        return open_session(s, user_name, utcnow())


@contextlib.contextmanager
def portal_server(store: Store, root: Path) -> Iterator[WebServer]:
    """`relance web` with the portal's people in its relance.toml."""
    with running_server(store, root, tables=PEOPLE) as server:
        yield server


def cookie_for(server: WebServer, store: Store, user_name: str) -> dict[str, str]:
    """The session cookie (name and value) that signs `user_name` in."""
    from relance.web.common import Portal

    portal = Portal(workspace=server.workspace, store=store, keys=server.keys,
                    today=lambda: TODAY)
    return {"name": session_cookie_name(portal), "value": sign_in(store, user_name)}
