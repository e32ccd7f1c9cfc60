"""A collection firm's workspace for the letters' tests: the firm (`[agency]`), a client
company (ACME), a business debtor with two late invoices, and the case the firm took
under ACME's mandate, at whatever stage a test asks."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from relance.channels.config import dispatch_config
from relance.channels.prepare import Prepared, Renderer
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import (
    Action,
    ActionState,
    Creditor,
    Debtor,
    Invoice,
    Mandate,
    MandateCase,
    MandateScope,
    Stage,
)
from tests.channels.factory import TODAY, add_action, add_creditor, add_debtor, add_invoice
from tests.channels.factory import make_workspace as channel_workspace

FIRM_NAME = "Recouvrement Rhône SAS"
FIRM_SIREN = "732829320"
FIRM_DOMAIN = "recouvrement-rhone.fr"
FIRM_IBAN = "FR14 2004 1010 0505 0001 3M02 606"
AGENCY: dict[str, Any] = {
    "name": FIRM_NAME,
    "siren": "732 829 320",
    "address": "12 quai Saint-Antoine\n69002 Lyon",
    "email": f"contact@{FIRM_DOMAIN}",
    "phone": "+33 4 78 00 00 00",
    "insurer": "Mutuelle des Huissiers",
    "insurance_policy": "RCP-2026-0042",
    "funds_iban": FIRM_IBAN,
    "funds_bic": "PSSTFRPPLIL",
}
MANDATE_REF = "MD-ACME-2026"
CASE_REF = "MD-ACME-2026/0001"
# What never shows before the mandate and always after it (SMS: the name and recall).
FIRM_MARKS = (FIRM_NAME, FIRM_SIREN, FIRM_DOMAIN)


def firm_workspace(root: Path) -> Workspace:
    return channel_workspace(root, {"agency": dict(AGENCY)})


@dataclass
class FirmBook:
    creditor_id: int
    debtor_id: int
    invoice_ids: list[int]


def firm_book(session: Session, *, stage: Stage = Stage.REMINDER, mandate: bool = False,
              creditor: dict[str, Any] | None = None,
              debtor: dict[str, Any] | None = None, ref: str = "F-0001") -> FirmBook:
    """ACME and one debtor owing two late invoices at `stage`; with `mandate`, the case
    the firm took under ACME's mandate (opened a week before TODAY)."""
    acme = session.query(Creditor).filter_by(code="ACME").one_or_none()
    if acme is None:
        acme = add_creditor(session, penalty_rate="15", **(creditor or {}))
    owner = add_debtor(session, acme, ref, **(debtor or {}))
    first = add_invoice(session, owner, f"FA-{ref}-1", 1_500_000,
                        TODAY - dt.timedelta(days=30), stage=stage)
    second = add_invoice(session, owner, f"FA-{ref}-2", 223_040,
                         TODAY - dt.timedelta(days=52), paid_minor=23_040, stage=stage)
    if mandate:
        open_case(session, acme, owner)
    return FirmBook(acme.id, owner.id, [first.id, second.id])


def open_case(session: Session, creditor: Creditor, debtor: Debtor) -> MandateCase:
    found = session.query(Mandate).filter_by(creditor_id=creditor.id).one_or_none()
    if found is None:
        found = Mandate(creditor_id=creditor.id, reference=MANDATE_REF,
                        signed_on=TODAY - dt.timedelta(days=60),
                        scope=MandateScope.AMICABLE_AND_LITIGATION, fee_percent="12.5",
                        starts_on=TODAY - dt.timedelta(days=60))
        session.add(found)
        session.flush()
    number = session.query(MandateCase).filter_by(mandate_id=found.id).count() + 1
    case = MandateCase(mandate_id=found.id, creditor_id=creditor.id, debtor_id=debtor.id,
                       opened_on=TODAY - dt.timedelta(days=7),
                       reference=f"{MANDATE_REF}/{number:04d}",
                       created_at=dt.datetime.combine(TODAY - dt.timedelta(days=7),
                                                      dt.time(9)))
    session.add(case)
    session.flush()
    return case


def queue(session: Session, book: FirmBook, *, channel: str, template: str,
          tone: str | None = None, key: str | None = None) -> Action:
    debtor = session.get(Debtor, book.debtor_id)
    assert debtor is not None
    invoices = [session.get(Invoice, i) for i in book.invoice_ids]
    return add_action(session, debtor, [i for i in invoices if i is not None],
                      channel=channel, template=template, tone=tone,
                      key=key or f"{book.debtor_id}:{channel}:{template}:{tone}")


def mark_first_letter_sent(session: Session, book: FirmBook, *, on: dt.date) -> Action:
    """The firm's first letter, sent on `on` and recorded on the case as the dispatcher
    records it."""
    action = queue(session, book, channel="letter", template="agency_first",
                   key=f"{book.debtor_id}:first")
    action.state = ActionState.SENT
    action.sent_at = dt.datetime.combine(on, dt.time(10))
    case = session.query(MandateCase).filter_by(debtor_id=book.debtor_id).one()
    case.first_letter_action_id = action.id
    case.first_letter_on = on
    session.flush()
    return action


def prepare(store: Store, workspace: Workspace, action_id: int,
            today: dt.date = TODAY) -> Prepared:
    renderer = Renderer(store, workspace, today, dispatch_config(workspace))
    with store.transaction() as session:
        action = session.get(Action, action_id)
        assert action is not None
        return renderer.prepare(session, action)


def everything_read(prepared: Prepared) -> str:
    """All the debtor would read of a prepared message (subject, text, HTML without its
    tags, letter), on one line with plain spaces (money has no-break spaces)."""
    text = "\n".join(part for part in (prepared.subject, prepared.text, prepared.html,
                                       prepared.letter_html) if part)
    text = html.unescape(re.sub(r"<[^>]*>", " ", re.sub(
        r"<(head|style)\b.*?</\1>", " ", text, flags=re.DOTALL)))
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())
