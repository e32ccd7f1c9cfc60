"""Small books written straight into a store: for rule tests and the engine's own tests.

A book is plain data — creditors, debtors, invoices, promises, history — so a rule test
file (`*.rules.test`) can describe one in a few lines. Amounts are decimal text
("1250.00"), never floats. Invoices are identified by number, debtors by reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from relance.engine.facts import (
    ACTION,
    ACTION_ITEM,
    CREDITOR,
    DEBTOR,
    DEBTOR_TAG,
    INSTALMENT,
    INVOICE,
    INVOICE_LEVEL,
    PLAN,
    PLAN_INVOICE,
    PROMISE,
)
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import to_minor
from relance.store.models import PlanStatus


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise UsageError(_("{where}: {value!r} is not a date (YYYY-MM-DD)").format(
            where=where, value=value)) from exc


def _minor(value: Any, currency: str, where: str) -> int:
    if isinstance(value, float):
        raise UsageError(_("{where}: write amounts as text ('1250.00'), not as a float")
                         .format(where=where))
    try:
        return to_minor(Decimal(str(value)), currency)
    except (ArithmeticError, ValueError) as exc:
        raise UsageError(_("{where}: {value!r} is not an amount in {currency}").format(
            where=where, value=value, currency=currency)) from exc


def write_book(session: Session, book: Mapping[str, Any]) -> dict[str, int]:
    """Insert the book's rows; return invoice number -> invoice id.

    Keys: `creditor` (code, country, calendar_region), `debtors` (ref, segment, country,
    paused_until, tags, risk, ...), `invoices` (number, debtor, issue_date, due_date, amount, paid,
    currency, disputed, stage, attrs), `promises` (debtor, invoice, promised_on, status),
    `plans` (debtor, invoices, currency, status or active, agreed_on, ended_on,
    instalments: due_on, amount, paid), `history` (invoice, policy, rule, channel,
    acted_on, state, template): actions already taken."""
    conn = session.connection()
    cred = dict(book.get("creditor", {}))
    code = str(cred.get("code", "ACME"))
    existing = conn.execute(select(CREDITOR.c.id).where(CREDITOR.c.code == code)).scalar()
    if existing is None:
        creditor_id = conn.execute(
            insert(CREDITOR).returning(CREDITOR.c.id),
            {"code": code, "name": str(cred.get("name", code)),
             "country": str(cred.get("country", "FR")).upper(),
             "calendar_region": cred.get("calendar_region")},
        ).scalar_one()
    else:
        creditor_id = existing
    debtor_ids: dict[str, int] = {}
    for n, raw in enumerate(book.get("debtors", ()), start=1):
        where = _("debtor {n}").format(n=n)
        ref = str(raw["ref"])
        paused = raw.get("paused_until")
        debtor_ids[ref] = conn.execute(
            insert(DEBTOR).returning(DEBTOR.c.id),
            {"creditor_id": creditor_id, "ref": ref, "name": str(raw.get("name", ref)),
             "segment": str(raw.get("segment", "")), "country": str(raw.get("country", "FR")),
             "language": str(raw.get("language", "fr")),
             "payment_method": str(raw.get("payment_method", "")),
             "sales_rep": raw.get("sales_rep"), "risk": raw.get("risk"),
             "email": raw.get("email"), "phone": raw.get("phone"),
             "paused_until": _date(paused, where) if paused else None},
        ).scalar_one()
        for tag in raw.get("tags", ()):
            conn.execute(insert(DEBTOR_TAG), {"debtor_id": debtor_ids[ref], "tag": str(tag)})
    invoice_ids: dict[str, int] = {}
    for n, raw in enumerate(book.get("invoices", ()), start=1):
        where = _("invoice {n} ({number})").format(n=n, number=raw.get("number", "?"))
        currency = str(raw.get("currency", "EUR")).upper()
        amount = _minor(raw["amount"], currency, where)
        paid = _minor(raw.get("paid", "0"), currency, where)
        debtor = str(raw["debtor"])
        if debtor not in debtor_ids:
            raise UsageError(_("{where}: unknown debtor {debtor!r}").format(where=where,
                                                                            debtor=debtor))
        disputed = raw.get("disputed")
        balance = amount - paid
        invoice_ids[str(raw["number"])] = conn.execute(
            insert(INVOICE).returning(INVOICE.c.id),
            {"creditor_id": creditor_id, "debtor_id": debtor_ids[debtor],
             "number": str(raw["number"]),
             "issue_date": _date(raw["issue_date"], where),
             "due_date": _date(raw["due_date"], where), "currency": currency,
             "amount_minor": amount, "paid_minor": paid, "balance_minor": balance,
             "status": "open" if balance > 0 else "paid",
             "dispute_reason": (str(disputed) if disputed not in (None, False) else None),
             "stage": str(raw.get("stage", "reminder")),
             "attrs": dict(raw.get("attrs", {}))},
        ).scalar_one()
    for n, raw in enumerate(book.get("promises", ()), start=1):
        where = _("promise {n}").format(n=n)
        invoice = raw.get("invoice")
        conn.execute(insert(PROMISE), {
            "creditor_id": creditor_id, "debtor_id": debtor_ids[str(raw["debtor"])],
            "invoice_id": invoice_ids[str(invoice)] if invoice else None,
            "promised_on": _date(raw["promised_on"], where),
            "status": str(raw.get("status", "open")),
        })
    for n, raw in enumerate(book.get("plans", ()), start=1):
        _write_plan(conn, creditor_id, debtor_ids, invoice_ids, raw,
                    _("plan {n}").format(n=n))
    write_history(session, creditor_id, invoice_ids, book.get("history", ()))
    return invoice_ids


def _write_plan(conn: Connection, creditor_id: int, debtor_ids: Mapping[str, int],
                invoice_ids: Mapping[str, int], raw: Mapping[str, Any], where: str) -> None:
    # `active: false` is the older spelling of a plan no longer in force.
    status = str(raw.get("status", "active" if raw.get("active", True) else "cancelled"))
    if status not in {s.value for s in PlanStatus}:
        raise UsageError(_("{where}: status {status!r} is not one of {known}").format(
            where=where, status=status, known=", ".join(s.value for s in PlanStatus)))
    debtor = str(raw["debtor"])
    if debtor not in debtor_ids:
        raise UsageError(_("{where}: unknown debtor {debtor!r}").format(where=where,
                                                                        debtor=debtor))
    currency = str(raw.get("currency", "EUR")).upper()
    ended = raw.get("ended_on")
    plan_id = conn.execute(
        insert(PLAN).returning(PLAN.c.id),
        {"creditor_id": creditor_id, "debtor_id": debtor_ids[debtor], "currency": currency,
         "status": status, "agreed_on": _date(raw.get("agreed_on", "2000-01-01"), where),
         "ended_on": _date(ended, where) if ended else None},
    ).scalar_one()
    for number in raw.get("invoices", ()):
        if str(number) not in invoice_ids:
            raise UsageError(_("{where}: unknown invoice {number!r}").format(where=where,
                                                                             number=number))
        conn.execute(insert(PLAN_INVOICE),
                     {"plan_id": plan_id, "invoice_id": invoice_ids[str(number)]})
    for m, instalment in enumerate(raw.get("instalments", ()), start=1):
        at = _("{where}, instalment {m}").format(where=where, m=m)
        conn.execute(insert(INSTALMENT), {
            "plan_id": plan_id, "due_on": _date(instalment["due_on"], at),
            "amount_minor": _minor(instalment["amount"], currency, at),
            "paid_minor": _minor(instalment.get("paid", "0"), currency, at),
        })


def write_history(session: Session, creditor_id: int, invoice_ids: Mapping[str, int],
                  history: Sequence[Mapping[str, Any]]) -> None:
    """Past actions: one action and one item each, and the invoice's level moved."""
    conn = session.connection()
    for n, raw in enumerate(history, start=1):
        where = f"history {n}"
        number = str(raw["invoice"])
        invoice_id = invoice_ids[number]
        debtor_id = conn.execute(
            select(INVOICE.c.debtor_id, INVOICE.c.balance_minor, INVOICE.c.currency)
            .where(INVOICE.c.id == invoice_id)
        ).one()
        acted_on = _date(raw["acted_on"], where)
        policy, rule = str(raw["policy"]), str(raw["rule"])
        channel = str(raw.get("channel", "letter"))
        action_id = conn.execute(
            insert(ACTION).returning(ACTION.c.id),
            {"idempotency_key": f"history|{n}|{number}|{policy}|{rule}|{acted_on}",
             "creditor_id": creditor_id, "debtor_id": debtor_id.debtor_id,
             "created_on": acted_on, "channel": channel, "template": raw.get("template"),
             "state": str(raw.get("state", "sent")), "proposed_by": "history"},
        ).scalar_one()
        conn.execute(insert(ACTION_ITEM), {
            "action_id": action_id, "invoice_id": invoice_id, "policy": policy, "rule": rule,
            "acted_on": acted_on, "step": int(raw.get("step", 0)),
            "state": str(raw.get("item_state", "active")),
            "balance_minor": debtor_id.balance_minor, "currency": debtor_id.currency,
        })
        level = conn.execute(
            select(INVOICE_LEVEL.c.acted_on).where(INVOICE_LEVEL.c.invoice_id == invoice_id,
                                                   INVOICE_LEVEL.c.policy == policy)
        ).first()
        if level is None:
            conn.execute(insert(INVOICE_LEVEL), {"invoice_id": invoice_id, "policy": policy,
                                                 "rule": rule, "acted_on": acted_on})
        elif level.acted_on is None or level.acted_on <= acted_on:
            conn.execute(
                INVOICE_LEVEL.update()
                .where(INVOICE_LEVEL.c.invoice_id == invoice_id, INVOICE_LEVEL.c.policy == policy)
                .values(rule=rule, acted_on=acted_on)
            )
