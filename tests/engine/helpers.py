"""Shared helpers of the engine tests: the worked example's book and rules."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from relance.dsl.loader import LoadedRules, load_text
from relance.engine.fixtures import write_book
from relance.kernel.dates import parse_date
from relance.store.db import Store
from relance.store.importing.numbers import parse_amount
from relance.store.models import Action, ActionItem, Invoice


def example_book(examples: Path) -> dict[str, Any]:
    """invoices.csv as a fixture book (our own small reader: the import is not under test)."""
    debtors: dict[str, dict[str, Any]] = {}
    invoices = []
    with (examples / "invoices.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            debtors[row["debtor_ref"]] = {
                "ref": row["debtor_ref"], "name": row["debtor_name"], "segment": row["segment"],
                "country": row["country"], "language": row["language"],
                "payment_method": row["payment_method"], "sales_rep": row["sales_rep"],
                "email": row["email"], "phone": row["phone"],
            }
            invoices.append({
                "number": row["invoice_number"], "debtor": row["debtor_ref"],
                "issue_date": parse_date(row["issue_date"]),
                "due_date": parse_date(row["due_date"]),
                "amount": str(parse_amount(row["amount"])),
                "paid": str(parse_amount(row["paid_amount"])),
                "currency": row["currency"], "attrs": {"region": row["region"]},
            })
    return {"creditor": {"code": "JCDA", "country": "FR"}, "debtors": list(debtors.values()),
            "invoices": invoices}


def load_example(store: Store, examples: Path) -> dict[str, int]:
    with store.transaction() as session:
        return write_book(session, example_book(examples))


def rules_from(text: str, path: str = "franchise.rules") -> LoadedRules:
    rules = load_text(text, path)
    assert rules.ok, rules.render()
    return rules


def example_rules(examples: Path) -> LoadedRules:
    return rules_from((examples / "franchise.rules").read_text(encoding="utf-8"))


def actions_of(store: Store, on: dt.date | None = None) -> list[dict[str, Any]]:
    """The queue as a user sees it: one dict per action with its invoices."""
    with store.transaction() as session:
        query = select(Action).order_by(Action.id)
        if on is not None:
            query = query.where(Action.created_on == on)
        out = []
        for action in session.scalars(query):
            numbers = sorted(
                session.scalars(
                    select(Invoice.number)
                    .join(ActionItem, ActionItem.invoice_id == Invoice.id)
                    .where(ActionItem.action_id == action.id)
                ).unique()
            )
            rules = sorted({item.rule for item in action.items})
            out.append({
                "id": action.id, "debtor_id": action.debtor_id, "channel": str(action.channel),
                "template": action.template, "tone": action.tone, "priority": action.priority,
                "state": str(action.state), "invoices": numbers, "rules": rules,
                "on": action.created_on,
            })
        return out
