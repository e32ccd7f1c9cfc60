"""Two creditors in one workspace, and an operator who may see only the first.

ACME's debtor is Alpha Coiffure; BELLE's is "Zephyrine Secret Spa" (B-777), with
invoices ZQ-901..903, a queued letter, e-mail, call task and escalation, a send in
doubt, a payment, a plan and a mandate: one of each thing a command can name. What
anna (operator, ACME only) must never see is any of `SECRETS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from relance.engine import plans
from relance.engine.roles import Actor, Role
from relance.kernel.money import Money
from relance.store import book as ledger
from relance.store.db import Store
from relance.store.models import (
    ActionState,
    Base,
    Channel,
    Creditor,
    Event,
    Mandate,
    MandateScope,
    PortalRequest,
    Stage,
)
from tests.casework.factory import TODAY, add_action, add_debtor, add_invoice, add_run

CONFIG = """\
[users]
alice = "credit_manager"

[users.anna]
role = "operator"
creditors = ["ACME"]
"""

# What of BELLE's anna may not read anywhere: its debtor's name and reference, its
# invoice numbers, its code and name.
SECRETS = ("Zephyrine", "B-777", "ZQ-90", "BELLE", "Bellerose")


@dataclass
class Agency:
    """The ids of what each creditor has, by name."""

    acme: int = 0
    belle: int = 0
    ids: dict[str, int] = field(default_factory=dict)


def build_agency(session: Session) -> Agency:
    found = Agency()
    acme = Creditor(code="ACME", name="Acme Services", address="1 rue de la Paix")
    belle = Creditor(code="BELLE", name="Bellerose Confidential SA", address="9 quai Ouest")
    session.add_all([acme, belle])
    session.flush()
    found.acme, found.belle = acme.id, belle.id
    alpha = add_debtor(session, acme, "A-001", "Alpha Coiffure")
    zeph = add_debtor(session, belle, "B-777", "Zephyrine Secret Spa")
    fa = add_invoice(session, alpha, "FA-A1", 120_000, dt.date(2026, 8, 31))
    z1 = add_invoice(session, zeph, "ZQ-901", 250_000, dt.date(2026, 8, 1))
    z2 = add_invoice(session, zeph, "ZQ-902", 90_000, dt.date(2026, 9, 1))
    z3 = add_invoice(session, zeph, "ZQ-903", 40_000, dt.date(2026, 10, 1))
    run = add_run(session)
    found.ids["acme_letter"] = add_action(session, run, alpha, [fa], Channel.LETTER).id
    found.ids["acme_call"] = add_action(
        session, run, alpha, [fa], Channel.CALL, state=ActionState.APPROVED, rule="call",
        policy="phone", template=None).id
    found.ids["acme_escalate"] = add_action(
        session, run, alpha, [fa], Channel.ESCALATE, rule="escalate amicable",
        policy="recovery", template=None, target_stage=Stage.AMICABLE).id
    found.ids["letter"] = add_action(session, run, zeph, [z1, z2], Channel.LETTER).id
    found.ids["email"] = add_action(session, run, zeph, [z1], Channel.EMAIL, policy="mail",
                                    rule="email relance_1", template="relance_1").id
    found.ids["call"] = add_action(
        session, run, zeph, [z1], Channel.CALL, state=ActionState.APPROVED, rule="call",
        policy="phone", template=None).id
    found.ids["escalate"] = add_action(
        session, run, zeph, [z1], Channel.ESCALATE, rule="escalate amicable",
        policy="recovery", template=None, target_stage=Stage.AMICABLE).id
    found.ids["uncertain"] = add_action(
        session, run, zeph, [z2], Channel.EMAIL, state=ActionState.UNCERTAIN,
        policy="late", rule="email late", template="relance_1").id
    payment = ledger.record_payment(
        session, creditor_id=belle.id, debtor_id=zeph.id, amount=Money.of(Decimal("100.00"), "EUR"),
        received_on=TODAY, reference="VIR ZQ", actor="alice",
        allocations=[(z2.id, 5_000)], today=TODAY)
    found.ids["payment"] = payment.id
    alice = Actor("alice", Role.CREDIT_MANAGER)
    plan = plans.create_plan(session, alice, [z3.id], today=TODAY, count=2,
                             first=TODAY + dt.timedelta(days=10), every=plans.Every.parse("1m"))
    found.ids["plan"] = plan.id
    # A payment declared on B-777's page, waiting for an operator (relance request).
    request = PortalRequest(debtor_id=zeph.id, kind="payment_declared", state="open",
                            data={"amount_minor": 10_000, "currency": "EUR",
                                  "paid_on": TODAY.isoformat(), "invoices": ["ZQ-901"],
                                  "reference": "VIR ZQ"})
    session.add(request)
    session.flush()
    found.ids["request"] = request.id
    session.add(Mandate(creditor_id=belle.id, reference="MB-1", signed_on=TODAY,
                        scope=MandateScope.AMICABLE, fee_percent="10",
                        starts_on=TODAY - dt.timedelta(days=30), recorded_by="alice"))
    session.flush()
    found.ids["event"] = int(session.scalar(
        select(Event.id).where(Event.creditor_id == belle.id).order_by(Event.id.desc())
        .limit(1)) or 0)
    return found


def dump_creditor(store: Store, creditor_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to the creditor (by its `creditor_id`, or
    through an action or a payment of it), as text: what must not change."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with store.session() as session:
        action_ids = [r[0] for r in session.execute(select(
            Base.metadata.tables["action"].c.id).where(
            Base.metadata.tables["action"].c.creditor_id == creditor_id))]
        payment_ids = [r[0] for r in session.execute(select(
            Base.metadata.tables["payment"].c.id).where(
            Base.metadata.tables["payment"].c.creditor_id == creditor_id))]
        for name, table in sorted(Base.metadata.tables.items()):
            columns = table.c
            if "creditor_id" in columns:
                query = select(table).where(columns.creditor_id == creditor_id)
            elif name == "creditor":
                query = select(table).where(columns.id == creditor_id)
            elif "action_id" in columns:
                query = select(table).where(columns.action_id.in_(action_ids))
            elif "payment_id" in columns:
                query = select(table).where(columns.payment_id.in_(payment_ids))
            else:
                continue
            keys = [c for c in inspect(table).primary_key] or list(columns)
            rows[name] = [tuple(str(v) for v in row)
                          for row in session.execute(query.order_by(*keys))]
    return rows


def write_config(folder: Path) -> None:
    (folder / "relance.toml").write_text(CONFIG, encoding="utf-8")
