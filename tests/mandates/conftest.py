"""A firm's workspace over the case-work book: creditor JCDA ("Jean Coutu Diffusion"),
debtors F-0001..F-0003, and Lille's (F-0003) escalation of FA-4 (7 200.00 EUR) to
amicable recovery, proposed by the run of 2026-11-20."""

from __future__ import annotations

import datetime as dt

import pytest

from relance.engine.roles import Actor, Policy, Role
from relance.store.db import Store
from tests.casework.factory import Book, build_book

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()

ALICE = Actor("alice", Role.CREDIT_MANAGER)
DAVID = Actor("david", Role.CREDIT_MANAGER)
BRUNO = Actor("bruno", Role.OPERATOR)
# A collection firm's workspace, and a company's own credit team.
FIRM = Policy(mandates_required=True)
FIRM_FOUR_EYES = Policy(mandates_required=True, four_eyes_above={"EUR": 500_000})
COMPANY = Policy()

# A valid [agency] table: the firm, its SIREN, its insurer and its client-funds account.
AGENCY = """\
[agency]
name = "Recouvrement Rhône SAS"
siren = "732 829 320"
address = "12 quai Saint-Antoine\\n69002 Lyon"
email = "contact@recouvrement-rhone.fr"
phone = "+33 4 78 00 00 00"
insurer = "Mutuelle des Huissiers"
insurance_policy = "RCP-2026-0042"
funds_iban = "FR76 3000 6000 0112 3456 7890 189"
funds_bic = "AGRIFRPP"
"""


@pytest.fixture
def book(store: Store) -> Book:
    with store.transaction() as session:
        return build_book(session)
