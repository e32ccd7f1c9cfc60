"""Client funds: what the firm holds for each creditor, its fees, and remittances.

The ledger's entries are posted by `relance.store.client_funds` when a payment is
recorded or reversed; this module reads them and hands them back to the creditor.

Fees, exactly (docs/client-funds.md says the same for users):

- A remittance takes, per creditor and currency, every entry not yet remitted booked on
  or before its last day. Its entries are grouped by case (`MandateCase`); a case's
  *collected* amount in that remittance is the sum of its entries, reversals negative.
- The percentage fee of a case is its collected amount times the mandate's
  `fee_percent` / 100, rounded to the cent (the currency's minor unit) half away from
  zero, once per case and remittance. A reversal carried into a later remittance makes
  that case's collected amount, and so its percentage fee, negative there: the fee
  taken on money that did not hold is given back.
- The mandate's fixed fee is charged once per case, at the first remittance in which
  the case's collected amount is positive and in the currency of the fixed fee; it is
  at most what the case brought in that remittance less its percentage fee, so that a
  case's fees never exceed what it brought. What the cap leaves out is not charged
  later. Charging it sets `MandateCase.fixed_fee_charged`.
- The remittance's fees are the sum over its cases of both fees; net to pay =
  collected - fees. So, always: everything collected = remitted net + fees + pending.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.engine.roles import Actor, require_credit_manager
from relance.engine.scope import require_visible
from relance.kernel.errors import NotFound
from relance.kernel.i18n import _
from relance.store import audit
from relance.store.client_funds import NOTICE_KEY, receipt_key
from relance.store.models import (
    Action,
    Creditor,
    Debtor,
    FundEntry,
    FundEntryKind,
    Mandate,
    MandateCase,
    Payment,
    Remittance,
)


def fee_rate(text: str | None) -> Decimal:
    """A mandate's `fee_percent` ("12.5") as a Decimal; an empty or unreadable one is 0,
    which a mandate recorded through `relance mandate` never has."""
    try:
        return Decimal((text or "0").strip().replace(",", ".") or "0")
    except InvalidOperation:
        return Decimal(0)


def percent_fee(collected_minor: int, percent: Decimal) -> int:
    """`collected_minor` x `percent` / 100, rounded half away from zero to the minor
    unit: 100.05 at 10 % is 10.01, and -100.05 at 10 % is -10.01."""
    exact = Decimal(collected_minor) * percent / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def case_fees(collected_minor: int, percent: Decimal, fixed_fee_minor: int,
              fixed_fee_due: bool) -> tuple[int, int]:
    """The (percentage, fixed) fees of one case in one remittance (see the module doc):
    the fixed fee only when due and the case brought money, capped so that the case's
    fees never exceed what it brought."""
    share = percent_fee(collected_minor, percent)
    if not fixed_fee_due or collected_minor <= 0 or fixed_fee_minor <= 0:
        return share, 0
    return share, min(fixed_fee_minor, max(collected_minor - share, 0))


@dataclass(frozen=True)
class FundLine:
    """One ledger entry as shown: the statement's rows, `relance funds`."""

    entry_id: int
    kind: str
    booked_on: dt.date
    amount_minor: int
    currency: str
    creditor_code: str
    debtor_ref: str
    debtor_name: str
    case_reference: str
    payment_id: int
    payment_reference: str
    invoices: tuple[str, ...]
    remittance: str | None
    due_on: dt.date

    def as_json(self) -> dict[str, Any]:
        return {"entry": self.entry_id, "kind": self.kind,
                "booked_on": self.booked_on.isoformat(), "amount_minor": self.amount_minor,
                "currency": self.currency, "creditor": self.creditor_code,
                "debtor": self.debtor_ref, "debtor_name": self.debtor_name,
                "case": self.case_reference, "payment": self.payment_id,
                "payment_reference": self.payment_reference,
                "invoices": list(self.invoices), "remittance": self.remittance,
                "remit_by": self.due_on.isoformat()}


@dataclass(frozen=True)
class CaseFigures:
    """One case in one remittance: what it brought and what the firm keeps of it."""

    case_reference: str
    mandate_reference: str
    debtor_ref: str
    debtor_name: str
    percent: Decimal
    collected_minor: int
    percent_fee_minor: int
    fixed_fee_minor: int

    @property
    def fees_minor(self) -> int:
        return self.percent_fee_minor + self.fixed_fee_minor


@dataclass
class RemittanceFigures:
    """A remittance made, with the lines and the per-case fees behind its totals."""

    remittance: Remittance
    creditor_code: str
    lines: list[FundLine] = field(default_factory=list)
    cases: list[CaseFigures] = field(default_factory=list)
    since: dt.date | None = None  # the day after the previous remittance's last day

    @property
    def percent_fees_minor(self) -> int:
        return sum(c.percent_fee_minor for c in self.cases)

    @property
    def fixed_fees_minor(self) -> int:
        return sum(c.fixed_fee_minor for c in self.cases)

    def as_json(self) -> dict[str, Any]:
        r = self.remittance
        return {"reference": r.reference, "creditor": self.creditor_code,
                "currency": r.currency, "until": r.until.isoformat(),
                "made_on": r.made_on.isoformat(), "collected_minor": r.collected_minor,
                "percent_fees_minor": self.percent_fees_minor,
                "fixed_fees_minor": self.fixed_fees_minor, "fees_minor": r.fees_minor,
                "net_minor": r.net_minor, "statement": r.statement_path,
                "entries": [line.as_json() for line in self.lines],
                "cases": [{"case": c.case_reference, "mandate": c.mandate_reference,
                           "debtor": c.debtor_ref, "percent": format(c.percent, "f"),
                           "collected_minor": c.collected_minor,
                           "percent_fee_minor": c.percent_fee_minor,
                           "fixed_fee_minor": c.fixed_fee_minor} for c in self.cases]}


def _invoices_paid(session: Session, payment_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The invoices each payment paid, as its receipt stated them when it was collected
    (a reversed payment has lost its allocations since)."""
    if not payment_ids:
        return {}
    keys = {receipt_key(pid): pid for pid in payment_ids}
    found: dict[int, tuple[str, ...]] = {}
    for key, output in session.execute(select(Action.idempotency_key, Action.output).where(
            Action.idempotency_key.in_(list(keys)))):
        facts = (output or {}).get(NOTICE_KEY) or {}
        found[keys[key]] = tuple(str(p["number"]) for p in facts.get("paid", []))
    return found


def _lines(session: Session, entries: list[FundEntry]) -> list[FundLine]:
    if not entries:
        return []
    payment_ids = sorted({e.payment_id for e in entries})
    payments = {p.id: p for p in session.scalars(select(Payment).where(
        Payment.id.in_(payment_ids)))}
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(
        Debtor.id.in_({e.debtor_id for e in entries})))}
    cases = {c.id: c for c in session.scalars(select(MandateCase).where(
        MandateCase.id.in_({e.mandate_case_id for e in entries})))}
    mandates = {m.id: m for m in session.scalars(select(Mandate).where(
        Mandate.id.in_({e.mandate_id for e in entries})))}
    creditors = {c.id: c.code for c in session.scalars(select(Creditor).where(
        Creditor.id.in_({e.creditor_id for e in entries})))}
    remittances = {r.id: r.reference for r in session.scalars(select(Remittance).where(
        Remittance.id.in_({e.remittance_id for e in entries if e.remittance_id})))}
    invoices = _invoices_paid(session, payment_ids)
    lines = []
    for e in entries:
        payment, debtor = payments[e.payment_id], debtors[e.debtor_id]
        lines.append(FundLine(
            entry_id=e.id, kind=str(e.kind), booked_on=e.booked_on,
            amount_minor=e.amount_minor, currency=e.currency,
            creditor_code=creditors[e.creditor_id], debtor_ref=debtor.ref,
            debtor_name=debtor.name, case_reference=cases[e.mandate_case_id].reference,
            payment_id=payment.id, payment_reference=payment.reference,
            invoices=invoices.get(payment.id, ()),
            remittance=remittances.get(e.remittance_id) if e.remittance_id else None,
            due_on=e.booked_on + dt.timedelta(days=mandates[e.mandate_id].remit_within_days)))
    return lines


def _order(query: Any) -> Any:
    return query.order_by(FundEntry.booked_on, FundEntry.id)


def _creditor(session: Session, actor: Actor | None, code: str) -> Creditor:
    not_found = _("no creditor {code}").format(code=code)
    creditor = session.scalars(select(Creditor).where(
        Creditor.code == code.strip())).one_or_none()
    if creditor is None:
        raise NotFound(not_found)
    require_visible(session, actor, creditor.id, not_found)
    return creditor


def remit(session: Session, actor: Actor, creditor_code: str, until: dt.date,
          made_on: dt.date) -> list[RemittanceFigures]:
    """Hand back to creditor `creditor_code` what the firm holds for it up to `until`
    (included): one `Remittance` per currency, its entries marked remitted, fixed fees
    marked charged, each with its audit event, in the caller's transaction. An empty
    list: nothing was left to remit (a second remittance of a period finds nothing).
    Only a credit manager remits; the statement's PDF is the caller's."""
    require_credit_manager(actor, _("remit client funds"))
    creditor = _creditor(session, actor, creditor_code)
    query = _order(select(FundEntry).where(
        FundEntry.creditor_id == creditor.id, FundEntry.remittance_id.is_(None),
        FundEntry.booked_on <= until)).with_for_update()
    entries = list(session.scalars(query))
    by_currency: dict[str, list[FundEntry]] = defaultdict(list)
    for entry in entries:
        by_currency[entry.currency].append(entry)
    made: list[RemittanceFigures] = []
    count = int(session.scalar(select(func.count()).select_from(Remittance).where(
        Remittance.creditor_id == creditor.id)) or 0)
    for currency in sorted(by_currency):
        count += 1
        made.append(_remit_currency(session, actor, creditor, currency,
                                    by_currency[currency], until, made_on, count))
    return made


def _remit_currency(session: Session, actor: Actor, creditor: Creditor, currency: str,
                    entries: list[FundEntry], until: dt.date, made_on: dt.date,
                    number: int) -> RemittanceFigures:
    previous = session.scalar(select(func.max(Remittance.until)).where(
        Remittance.creditor_id == creditor.id, Remittance.currency == currency))
    remittance = Remittance(
        creditor_id=creditor.id, reference=f"REM-{creditor.code}-{number}", until=until,
        made_on=made_on, currency=currency, made_by=actor.name)
    session.add(remittance)
    session.flush()
    by_case: dict[int, list[FundEntry]] = defaultdict(list)
    for entry in entries:
        by_case[entry.mandate_case_id].append(entry)
        entry.remittance_id = remittance.id
    cases = {c.id: c for c in session.scalars(select(MandateCase).where(
        MandateCase.id.in_(list(by_case))).with_for_update())}
    mandates = {m.id: m for m in session.scalars(select(Mandate).where(
        Mandate.id.in_({c.mandate_id for c in cases.values()})))}
    debtors = {d.id: d for d in session.scalars(select(Debtor).where(
        Debtor.id.in_({c.debtor_id for c in cases.values()})))}
    figures: list[CaseFigures] = []
    for case_id in sorted(by_case, key=lambda cid: cases[cid].reference):
        case = cases[case_id]
        mandate = mandates[case.mandate_id]
        collected = sum(e.amount_minor for e in by_case[case_id])
        rate = fee_rate(mandate.fee_percent)
        due = not case.fixed_fee_charged and mandate.currency == currency
        share, fixed = case_fees(collected, rate, mandate.fixed_fee_minor, due)
        if due and collected > 0 and mandate.fixed_fee_minor > 0:
            case.fixed_fee_charged = True
        debtor = debtors[case.debtor_id]
        figures.append(CaseFigures(case.reference, mandate.reference, debtor.ref, debtor.name,
                                   rate, collected, share, fixed))
    remittance.collected_minor = sum(e.amount_minor for e in entries)
    remittance.fees_minor = sum(c.fees_minor for c in figures)
    remittance.net_minor = remittance.collected_minor - remittance.fees_minor
    session.flush()
    result = RemittanceFigures(remittance, creditor.code, _lines(session, entries), figures,
                               previous + dt.timedelta(days=1) if previous else None)
    audit.record(session, actor=actor.name, kind="funds.remitted", subject_type="remittance",
                 subject_id=remittance.id, creditor_id=creditor.id,
                 data={"reference": remittance.reference, "currency": currency,
                       "until": until.isoformat(), "made_on": made_on.isoformat(),
                       "collected_minor": remittance.collected_minor,
                       "fees_minor": remittance.fees_minor,
                       "net_minor": remittance.net_minor,
                       "entries": [e.id for e in entries],
                       "cases": result.as_json()["cases"]})
    return result


def record_statement(session: Session, remittance: Remittance, path: str) -> None:
    """Where the remittance's statement was saved (in the remittance's transaction)."""
    remittance.statement_path = path
    session.flush()


def pending(session: Session, creditor_id: int) -> list[FundLine]:
    """The creditor's entries not remitted yet, oldest first."""
    return _lines(session, list(session.scalars(_order(select(FundEntry).where(
        FundEntry.creditor_id == creditor_id, FundEntry.remittance_id.is_(None))))))


def ledger(session: Session, creditor_ids: list[int] | None = None) -> list[FundLine]:
    """Every entry of these creditors' ledgers (None: all creditors), oldest first."""
    query = select(FundEntry)
    if creditor_ids is not None:
        query = query.where(FundEntry.creditor_id.in_(creditor_ids))
    return _lines(session, list(session.scalars(_order(query))))


@dataclass(frozen=True)
class OverdueFund:
    """Money collected and not remitted within the mandate's period."""

    line: FundLine
    days_late: int

    def as_json(self) -> dict[str, Any]:
        return {**self.line.as_json(), "days_late": self.days_late}


def overdue_funds(session: Session, today: dt.date,
                  creditor_ids: list[int] | None = None) -> list[OverdueFund]:
    """Collected entries still unremitted after the mandate's `remit_within_days` from
    their booking (overdue from the day after that), oldest first; a payment reversed
    before it was remitted owes nothing and is left out. `creditor_ids`: only these
    creditors (engine.scope.creditor_ids of the user); None: all."""
    query = (select(FundEntry)
             .join(Mandate, Mandate.id == FundEntry.mandate_id)
             .where(FundEntry.kind == FundEntryKind.COLLECTED,
                    FundEntry.remittance_id.is_(None),
                    FundEntry.booked_on < today))
    if creditor_ids is not None:
        query = query.where(FundEntry.creditor_id.in_(creditor_ids))
    candidates = list(session.scalars(_order(query)))
    reversed_ids = set(session.scalars(select(FundEntry.payment_id).where(
        FundEntry.kind == FundEntryKind.REVERSED,
        FundEntry.payment_id.in_([e.payment_id for e in candidates])))) if candidates else set()
    found = []
    for line in _lines(session, [e for e in candidates if e.payment_id not in reversed_ids]):
        if today > line.due_on:
            found.append(OverdueFund(line, (today - line.due_on).days))
    return found


def remittances(session: Session, creditor_ids: list[int] | None = None) -> list[Remittance]:
    query = select(Remittance).order_by(Remittance.made_on, Remittance.id)
    if creditor_ids is not None:
        query = query.where(Remittance.creditor_id.in_(creditor_ids))
    return list(session.scalars(query))


__all__ = [
    "CaseFigures",
    "FundLine",
    "OverdueFund",
    "RemittanceFigures",
    "case_fees",
    "fee_rate",
    "ledger",
    "overdue_funds",
    "pending",
    "percent_fee",
    "record_statement",
    "remit",
    "remittances",
]
