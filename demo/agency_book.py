"""The demo's collection firm and its second client company, handled under mandate.

The demo workspace is run by a collection firm (`[agency]`): Bellerose's reminders go
out under Bellerose's name alone (white label), while a joinery, Menuiseries du Vercors,
has signed a mandate; its longest-unpaid customer is escalated to amicable recovery,
gets the firm's first letter, pays part of the debt, and the firm remits the funds.

Names, addresses and identifiers are invented; SIREN, VAT numbers and IBANs carry valid
check digits so that the creditor checks accept them, as they would a real client's.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from relance.demo.portfolio import HEADER

FIRM_CONFIG = """
[agency]
name = "Cabinet Dauphiné Recouvrement SAS"
siren = "529173643"
address = "7 place Grenette\\n38000 Grenoble"
email = "dossiers@dauphine-recouvrement.example"
phone = "+33 4 76 00 52 91"
insurer = "Mutuelle Alpine d'Assurances"
insurance_policy = "RCP-2026-0418"
funds_iban = "FR7619999000770008765432111"
funds_bic = "DPHRFRP1XXX"
"""
"""What the demo adds to relance.toml: the firm that runs the workspace."""

VERCORS_CODE = "VERCORS"

VERCORS: dict[str, Any] = {
    "code": VERCORS_CODE,
    "name": "Menuiseries du Vercors SARL",
    "siren": "417268539",
    "siret": "41726853900018",
    "vat": "FR65417268539",
    "address": "12 avenue Jean-Perrot\n38100 Grenoble",
    "country": "FR",
    "iban": "FR7619999000420001234567879",
    "bic": "VRCSFRP1XXX",
    "email": "compta@menuiseries-vercors.example.fr",
    "sender_name": "Menuiseries du Vercors — comptabilité",
    "contact_email": "direction@menuiseries-vercors.example.fr",
    "phone": "+33 4 76 00 17 40",
    "legal_footer": ("Menuiseries du Vercors SARL au capital de 40 000 € — RCS Grenoble "
                     "417 268 539 — TVA FR65417268539."),
    "late_penalties": True,
}
"""The second client company: its identity, as `relance creditor add` records it."""

MANDATE_REFERENCE = "MDT-2026-014"
# The firm's fee on sums it collects, and a fixed fee per case taken.
MANDATE_FEE_PERCENT = "12"
MANDATE_FIXED_FEE = "45.00"  # EUR

# The joinery's customers: (ref, name, address, e-mail, days overdue of each invoice
# with its amount in cents). CHARTREUSE is the case the firm takes.
ESCALATED_REF = "CHARTREUSE"
_CUSTOMERS: tuple[tuple[str, str, str, str, tuple[tuple[int, int], ...]], ...] = (
    (ESCALATED_REF, "Bâtiments de Chartreuse SAS", "3 rue des Alpes\n38500 Voiron",
     "compta@batiments-chartreuse.example.fr", ((131, 186_000), (104, 142_560),
                                                  (97, 92_640))),
    ("BELLEDONNE", "Rénovation Belledonne SARL", "41 route de Chamrousse\n38410 Uriage",
     "factures@renovation-belledonne.example.fr", ((24, 64_800), (6, 31_200))),
    ("TRIEVES", "Charpentes du Trièves EURL", "2 place du Marché\n38710 Mens",
     "gestion@charpentes-trieves.example.fr", ((12, 210_000),)),
    ("GRESIVAUDAN", "Habitat Grésivaudan SCI", "88 Grande Rue\n38660 Le Touvet",
     "sci.gresivaudan@habitat.example.fr", ((-10, 57_600),)),
)

TERMS_DAYS = 30

VERCORS_RULES = """# rules/vercors.rules: the joinery's own track, and what the firm does
# once a case of it is taken under mandate. Written by `relance demo`.
policy vercors for creditor = VERCORS and stage = reminder

rule vercors_relance_1:
  when overdue >= 5d and not paused and not disputed and not promised
  then send email 'relance_1' with tone soft

rule vercors_relance_2:
  when overdue >= 30d and not paused and not disputed and not promised
  then send letter 'relance_2' with tone firm

rule vercors_escalate:
  when overdue >= 90d and not paused and not disputed and not promised
  then escalate to amicable

# Under mandate the firm writes first with the mentions the law asks of it.
policy vercors_recovery for creditor = VERCORS and stage = amicable

rule firm_first_letter:
  when not paused and not disputed
  then send letter 'agency_first'
"""


def vercors_rows(on: dt.date) -> list[list[str]]:
    """The joinery's invoices as canonical import rows, dated from `on`."""
    rows: list[list[str]] = []
    sequence = 0
    for ref, name, address, email, invoices in _CUSTOMERS:
        for days_overdue, cents in invoices:
            sequence += 1
            due = on - dt.timedelta(days=days_overdue)
            issued = due - dt.timedelta(days=TERMS_DAYS)
            values = {
                "creditor": VERCORS_CODE, "debtor_ref": ref, "debtor_name": name,
                "segment": "trade", "email": email, "country": "FR", "language": "fr",
                "payment_method": "transfer",
                "invoice_number": f"MV-{issued.year}-{sequence:04d}",
                "issue_date": issued.isoformat(), "due_date": due.isoformat(),
                "amount": f"{cents // 100}.{cents % 100:02d}", "currency": "EUR",
                "paid_amount": "0.00", "address": address, "is_consumer": "no",
            }
            rows.append([values.get(column, "") for column in HEADER])
    return rows


def write_vercors_invoices(path: Path, on: dt.date) -> int:
    rows = vercors_rows(on)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)
