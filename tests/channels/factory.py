"""Building a small book and its queued actions for the channel tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relance.kernel.workspace import Workspace
from relance.store.db import Store, open_store
from relance.store.models import (
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
)

TODAY = dt.date(2026, 11, 22)

# A 1x1 PNG: the creditor's logo inside the workspace.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2b3bf1b0000000049454e44ae426082"
)


def make_workspace(root: Path, config: dict[str, Any] | None = None) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "assets").mkdir(exist_ok=True)
    (root / "assets" / "logo.png").write_bytes(PNG_1X1)
    # An e-mail-only template: no letter to attach, so volume tests stay fast.
    (root / "templates" / "rappel").mkdir(exist_ok=True)
    (root / "templates" / "rappel" / "email.fr.txt").write_text(
        "{% set subject %}{{ creditor.name }} – rappel {{ debtor.ref }}{% endset %}"
        "Bonjour,\n\n{% for inv in invoices %}{{ inv.number }} : {{ inv.balance }}\n"
        "{% endfor %}\n{{ payment.iban }}\n")
    base: dict[str, Any] = {"dispatch": {"retry_base_seconds": 0}}
    for key, value in (config or {}).items():
        base[key] = value
    return Workspace(root, base)


@dataclass
class Book:
    creditor_id: int
    debtor_ids: dict[str, int]
    invoice_ids: dict[str, int]


def add_creditor(session: Any, code: str = "ACME", **kw: Any) -> Creditor:
    values: dict[str, Any] = dict(
        code=code, name="Acme Distribution SAS",
        address="12 rue des Tanneurs\n69002 Lyon\nFrance", siren="552100554",
        vat_number="FR40552100554", iban="FR7630006000011234567890189", bic="AGRIFRPPXXX",
        email="recouvrement@acme-distribution.fr", reply_to="compta@acme-distribution.fr",
        phone="04 72 00 00 00", logo_path="assets/logo.png",
        legal_mentions="SAS au capital de 150 000 € – RCS Lyon 552 100 554",
        late_penalties=True,
    )
    values.update(kw)
    creditor = Creditor(**values)
    session.add(creditor)
    session.flush()
    return creditor


def add_debtor(session: Any, creditor: Creditor, ref: str, **kw: Any) -> Debtor:
    values: dict[str, Any] = dict(
        creditor_id=creditor.id, ref=ref, name=f"Boulangerie {ref}",
        email=f"{ref.lower()}@client.example", phone="06 12 34 56 78",
        address="Boulangerie du Marché\n3 place du Marché\n13001 Marseille",
        language="fr", sales_rep="jeanne.martin@acme-distribution.fr",
    )
    values.update(kw)
    debtor = Debtor(**values)
    session.add(debtor)
    session.flush()
    return debtor


def add_invoice(session: Any, debtor: Debtor, number: str, amount_minor: int,
                due: dt.date, paid_minor: int = 0, currency: str = "EUR",
                **kw: Any) -> Invoice:
    invoice = Invoice(
        creditor_id=debtor.creditor_id, debtor_id=debtor.id, number=number,
        issue_date=due - dt.timedelta(days=30), due_date=due, currency=currency,
        amount_minor=amount_minor, paid_minor=paid_minor,
        balance_minor=amount_minor - paid_minor, **kw,
    )
    session.add(invoice)
    session.flush()
    return invoice


def add_action(session: Any, debtor: Debtor, invoices: list[Invoice], *,
               channel: str = "letter", template: str = "relance_2", tone: str | None = None,
               state: ActionState = ActionState.APPROVED, key: str | None = None,
               **kw: Any) -> Action:
    action = Action(
        idempotency_key=key or f"{debtor.id}:{channel}:{template}:{tone}:{invoices[0].number}",
        creditor_id=debtor.creditor_id, debtor_id=debtor.id, created_on=TODAY,
        channel=Channel(channel), template=template, tone=tone, state=state, **kw,
    )
    session.add(action)
    session.flush()
    for inv in invoices:
        session.add(ActionItem(action_id=action.id, invoice_id=inv.id, policy=f"p{action.id}",
                               rule=f"{channel} {template}", acted_on=TODAY,
                               balance_minor=inv.balance_minor, currency=inv.currency))
    session.flush()
    return action


def standard_book(store: Store) -> dict[str, int]:
    """Two invoices for one debtor in one letter (15,000.00 EUR and 2,230.40 EUR late)."""
    with store.transaction() as s:
        creditor = add_creditor(s, penalty_rate="15")
        debtor = add_debtor(s, creditor, "F-0001")
        a = add_invoice(s, debtor, "FA-2026-0001", 1_500_000, TODAY - dt.timedelta(days=30))
        b = add_invoice(s, debtor, "FA-2026-0114", 223_040, TODAY - dt.timedelta(days=52),
                        paid_minor=23_040)
        action = add_action(s, debtor, [a, b], template="mise_en_demeure")
        return {"action": action.id, "debtor": debtor.id, "a": a.id, "b": b.id,
                "creditor": creditor.id}


def standard_workspace(root: Path) -> dict[str, int]:
    """A workspace in `root` with its own SQLite file holding `standard_book`, closed
    again so that a `relance` process can open it; the book's ids."""
    make_workspace(root)
    (root / "relance.toml").write_text("[workspace]\n")
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    ids = standard_book(store)
    store.dispose()
    return ids
