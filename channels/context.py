"""What a template sees: plain dictionaries built from the store, formatted for the language.

Templates never get ORM objects (a template could otherwise walk from an invoice to the
whole database). Amounts come both exact (`*_minor`, integers) and formatted by babel for
the letter's language (`1 234,56 €` in French, `€1,234.56` in English); dates likewise.

A collection firm's workspace passes its `[agency]` settings: a message of a case the
firm took under mandate then carries `agency` (the firm, the case, the first letter to
recall: `channels.agency_context`) and its payment block names the firm's client-funds
account; any other message carries nothing of the firm (white label). A creditor's
waiver (`channels.legal.waives_penalties`) leaves the penalty lines and the 40 EUR
indemnity out, as for a consumer.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel.dates import format_date
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from relance.channels.agency_context import agency_context, firm_case
from relance.channels.group_facts import GroupFacts
from relance.channels.legal import (
    FORMAL_NOTICE_TEMPLATES,
    LegalInterest,
    creditor_mentions,
    half_year_text,
    is_consumer,
    left_out_warning,
    legal_interest,
    waives_penalties,
)
from relance.engine.penalties import (
    INDEMNITY_CURRENCY,
    InvoicePenalty,
    RateTable,
    compute_penalty,
    load_rate_table,
)
from relance.engine.portal_links import LinkKeys, issue_link, link_keys
from relance.kernel.display import show_date, show_money, show_percent
from relance.kernel.money import locale_for
from relance.kernel.settings import AgencySettings
from relance.kernel.workspace import Workspace
from relance.store.models import (
    VOID_ACTION_STATES,
    Action,
    ActionItem,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    ItemState,
)

DEFAULT_DEADLINE_DAYS = 8
# The messages to a debtor that carry their personal link (not the internal alerts).
LINKED_CHANNELS = frozenset({"letter", "email", "sms"})
money = show_money


# Every message of a dispatch prints the same few days and rates: each is formatted by
# Babel once, not for each message.
@functools.lru_cache(maxsize=4096)
def date_text(day: dt.date, language: str, style: str = "short") -> str:
    if style == "short":
        return show_date(day, language)
    return format_date(day, style, locale=locale_for(language))


_percent = functools.lru_cache(maxsize=1024)(show_percent)


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def iban_text(iban: str | None) -> str:
    compact = "".join((iban or "").split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def logo_url(creditor: Creditor, workspace_root: Path | None) -> str | None:
    """The creditor's logo as a file URL when it lies inside the workspace, else None."""
    if not creditor.logo_path or workspace_root is None:
        return None
    root = workspace_root.resolve()
    path = Path(creditor.logo_path)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_file() or not path.is_relative_to(root):
        return None
    return path.as_uri()


def message_link_keys(workspace: Workspace | None) -> LinkKeys | None:
    """The keys that put a personal link in each message: None unless `[web] base_url`
    and a web secret are both configured (a secret file others may read is refused)."""
    settings = getattr(workspace, "settings", None)
    if workspace is None or settings is None or settings.web.base_url is None:
        return None
    return link_keys(workspace)


@dataclass(frozen=True)
class LetterData:
    """The context of one action plus the exact figures the dispatcher records."""

    context: dict[str, Any]
    invoice_ids: tuple[int, ...]
    totals_minor: dict[str, int]


def _contract_rate(creditor: Creditor) -> Decimal | None:
    if not creditor.penalty_rate:
        return None
    try:
        return Decimal(creditor.penalty_rate.replace(",", "."))
    except InvalidOperation:
        return None


def _logo(creditor: Creditor, workspace_root: Path | None,
          facts: GroupFacts | None) -> str | None:
    """`logo_url`, looked for once per creditor in a group."""
    if facts is None:
        return logo_url(creditor, workspace_root)
    if creditor.id not in facts.logos:
        facts.logos[creditor.id] = logo_url(creditor, workspace_root)
    return facts.logos[creditor.id]


def _other_live_action(session: Session, action: Action, invoice_ids: Sequence[int],
                       *conditions: ColumnElement[bool]) -> bool:
    """Whether an action other than `action`, not rejected, cancelled or failed, holds
    one of these invoices and meets `conditions`."""
    if not invoice_ids:
        return False
    found = (
        select(ActionItem.id)
        .join(Action, Action.id == ActionItem.action_id)
        .where(
            ActionItem.invoice_id.in_(invoice_ids),
            ActionItem.state == ItemState.ACTIVE,
            Action.id != action.id,
            Action.state.not_in(list(VOID_ACTION_STATES)),
            *conditions,
        )
        .limit(1)
    )
    return session.execute(found).first() is not None


_REMINDERS = (Channel.LETTER, Channel.EMAIL, Channel.SMS)


def _reminded_before(session: Session, action: Action, invoice_ids: Sequence[int],
                     facts: GroupFacts | None = None) -> bool:
    """Whether one of these invoices already had a reminder (letter, e-mail or SMS) queued
    before this action and not rejected, cancelled or failed: only then may a letter say
    "despite our previous reminder"."""
    if facts is not None:
        return any(h.created_on < action.created_on and h.channel in _REMINDERS
                   for h in facts.other_holders(action, invoice_ids))
    return _other_live_action(
        session, action, invoice_ids, Action.created_on < action.created_on,
        Action.channel.in_(list(_REMINDERS)))


# A formal notice e-mail says it was also sent by registered letter only when a letter
# notice on the same invoices is queued this close to it (the same run, or a day apart
# when the rules send them on neighbouring days).
REGISTERED_LETTER_WINDOW = dt.timedelta(days=7)


def _registered_letter_too(session: Session, action: Action,
                           invoice_ids: Sequence[int], facts: GroupFacts | None = None) -> bool:
    """Whether a formal-notice letter on one of these invoices, not rejected, cancelled
    or failed, goes with this e-mail: only then may the e-mail say so."""
    if action.channel != Channel.EMAIL:
        return False
    if facts is not None:
        earliest = action.created_on - REGISTERED_LETTER_WINDOW
        latest = action.created_on + REGISTERED_LETTER_WINDOW
        return any(h.channel == Channel.LETTER and h.template in FORMAL_NOTICE_TEMPLATES
                   and earliest <= h.created_on <= latest
                   for h in facts.other_holders(action, invoice_ids))
    return _other_live_action(
        session, action, invoice_ids, Action.channel == Channel.LETTER,
        Action.template.in_(FORMAL_NOTICE_TEMPLATES),
        Action.created_on.between(action.created_on - REGISTERED_LETTER_WINDOW,
                                  action.created_on + REGISTERED_LETTER_WINDOW))


def _formal_notice_on(session: Session, action: Action,
                     invoice_ids: Sequence[int]) -> dt.date | None:
    """The date of the first formal notice sent on one of these invoices before this
    action: the legal interest runs from it. Only a notice that went out counts."""
    if not invoice_ids:
        return None
    rows = session.execute(
        select(Action.sent_at, Action.created_on)
        .join(ActionItem, ActionItem.action_id == Action.id)
        .where(
            ActionItem.invoice_id.in_(invoice_ids),
            ActionItem.state == ItemState.ACTIVE,
            Action.id != action.id,
            Action.template.in_(FORMAL_NOTICE_TEMPLATES),
            Action.channel.in_([Channel.LETTER, Channel.EMAIL]),
            Action.state == ActionState.SENT,
        )
    ).all()
    # The letter is dated the day it is dispatched; `created_on` (the run) stands in for
    # notices recorded without a send time.
    days = [sent.date() if sent is not None else created for sent, created in rows]
    return min(days) if days else None


def _interest_context(interest: LegalInterest | None, language: str) -> dict[str, Any] | None:
    if interest is None:
        return None
    return {
        "since": date_text(interest.since, language, "long"),
        "this_notice": interest.this_notice,
        "rate": show_percent(interest.rate, language) if interest.rate is not None else None,
        "half_year": half_year_text(interest.period, language),
    }


@dataclass(frozen=True)
class InvoiceFigures:
    """The invoices of a letter as it shows them: a row each (balance, legal penalties
    and indemnity as of the day), totals per currency; the debtor's page shows the same."""

    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    totals_minor: dict[str, int]
    penalties: list[InvoicePenalty]
    warnings: list[str]
    indemnity_total: int
    indemnity_count: int
    consumer: bool
    waived: bool
    applies: bool
    rate_table: RateTable
    contract_rate: Decimal | None


def invoice_figures(creditor: Creditor, debtor: Debtor, invoices: Sequence[Invoice], *,
                    today: dt.date, language: str,
                    rates: RateTable | None = None) -> InvoiceFigures:
    """`invoices` (in the order given) with their penalties as of `today`, as a letter
    of `creditor` to `debtor` in `language` lists them."""
    # Who is a consumer, and what a consumer's letter may say: channels/legal.py.
    consumer = is_consumer(debtor)
    waived = not consumer and waives_penalties(creditor, debtor)
    applies = bool(creditor.late_penalties) and not consumer and not waived
    table = rates or load_rate_table()
    contract_rate = _contract_rate(creditor)

    rows: list[dict[str, Any]] = []
    principal: dict[str, int] = {}
    interest: dict[str, int] = {}
    indemnity_total = 0
    indemnity_count = 0
    warnings: list[str] = []
    penalties_seen: list[InvoicePenalty] = []
    for inv in invoices:
        still_due = max(inv.balance_minor, 0)
        principal[inv.currency] = principal.get(inv.currency, 0) + still_due
        days_late = max((today - inv.due_date).days, 0)
        row: dict[str, Any] = {
            "number": inv.number,
            "issue_date": date_text(inv.issue_date, language),
            "due_date": date_text(inv.due_date, language),
            "currency": inv.currency,
            "amount": money(inv.amount_minor, inv.currency, language),
            "amount_minor": inv.amount_minor,
            "paid": money(inv.paid_minor, inv.currency, language),
            "paid_minor": inv.paid_minor,
            "balance": money(still_due, inv.currency, language),
            "balance_minor": still_due,
            "days_late": days_late,
            "late": days_late > 0,
            "interest": None,
            "interest_minor": 0,
            "segments": [],
            "indemnity": None,
        }
        if applies and days_late > 0 and still_due > 0:
            penalty = compute_penalty(
                table, base_minor=still_due, currency=inv.currency, due_date=inv.due_date,
                on=today, contractual_rate=contract_rate,
                frozen=bool(creditor.penalty_rate_frozen),
            )
            penalties_seen.append(penalty)
            warnings.extend(w for w in penalty.warnings if w not in warnings)
            interest[inv.currency] = interest.get(inv.currency, 0) + penalty.interest_minor
            indemnity_total += penalty.indemnity_minor
            indemnity_count += 1
            row["interest"] = money(penalty.interest_minor, inv.currency, language)
            row["interest_minor"] = penalty.interest_minor
            row["indemnity"] = money(penalty.indemnity_minor, INDEMNITY_CURRENCY, language)
            row["segments"] = [
                {
                    "start": date_text(s.start, language),
                    "end": date_text(s.end, language),
                    "days": s.days,
                    "rate": _percent(s.rate, language),
                    "amount": money(s.amount_minor, inv.currency, language),
                    "amount_minor": s.amount_minor,
                }
                for s in penalty.segments
            ]
        rows.append(row)

    currencies = sorted(set(principal) | ({INDEMNITY_CURRENCY} if indemnity_total else set()))
    totals: list[dict[str, Any]] = []
    totals_minor: dict[str, int] = {}
    for cur in currencies:
        extra = indemnity_total if cur == INDEMNITY_CURRENCY else 0
        total = principal.get(cur, 0) + interest.get(cur, 0) + extra
        totals_minor[cur] = total
        totals.append({
            "currency": cur,
            "principal": money(principal.get(cur, 0), cur, language),
            "principal_minor": principal.get(cur, 0),
            "interest": money(interest.get(cur, 0), cur, language),
            "interest_minor": interest.get(cur, 0),
            "indemnity": money(extra, cur, language) if extra else None,
            "indemnity_minor": extra,
            # The indemnity under the name R124-4 gives it (the debt's "other
            # accessories"), shown even when nil: a firm's letter lists each part.
            "accessories": money(extra, cur, language),
            "total": money(total, cur, language),
            "total_minor": total,
        })

    return InvoiceFigures(
        rows=rows, totals=totals, totals_minor=totals_minor, penalties=penalties_seen,
        warnings=warnings, indemnity_total=indemnity_total, indemnity_count=indemnity_count,
        consumer=consumer, waived=waived, applies=applies, rate_table=table,
        contract_rate=contract_rate)


def build_context(
    session: Session,
    action: Action,
    *,
    today: dt.date,
    workspace_root: Path | None,
    items: Sequence[ActionItem] | None = None,
    rates: RateTable | None = None,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
    agency: AgencySettings | None = None,
    portal: LinkKeys | None = None,
    facts: GroupFacts | None = None,
) -> LetterData:
    """The template context of `action`, listing its active items' invoices as of `today`.

    `portal`: the workspace's link keys (`message_link_keys`); a letter, e-mail or SMS
    then carries `portal_url`, the debtor's personal link bound to this action (the same
    however often the action is prepared). None otherwise, and the templates say nothing.

    `agency`: the workspace's collection firm, if it is one; the context speaks for it
    only on a case the firm took under mandate (see the module's docstring).

    `facts`: what the book says of the action's group, read once for the group
    (`group_facts`, by the dispatcher); without them the context asks for its own."""
    creditor = session.get(Creditor, action.creditor_id)
    debtor = session.get(Debtor, action.debtor_id)
    if creditor is None or debtor is None:
        raise LookupError(f"action {action.id}: creditor or debtor missing")
    language = (debtor.language or "fr").lower()[:2]
    active = [i for i in (items if items is not None else action.items)
              if i.state == ItemState.ACTIVE]
    invoice_ids = sorted({i.invoice_id for i in active})
    invoices: Sequence[Invoice]
    if facts is not None:
        invoices = [facts.invoices[i] for i in invoice_ids if i in facts.invoices]
    else:
        invoices = (session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids))).all()
                    if invoice_ids else [])
    invoices = sorted(invoices, key=lambda inv: (inv.due_date, inv.number))
    figures = invoice_figures(creditor, debtor, invoices, today=today, language=language,
                              rates=rates)
    consumer, waived, applies = figures.consumer, figures.waived, figures.applies
    table, contract_rate = figures.rate_table, figures.contract_rate
    rows, totals, totals_minor = figures.rows, figures.totals, figures.totals_minor
    penalties_seen, warnings = figures.penalties, list(figures.warnings)
    indemnity_total, indemnity_count = figures.indemnity_total, figures.indemnity_count

    method = penalties_seen[0].method if penalties_seen else (
        "contractual" if contract_rate is not None else
        "frozen" if creditor.penalty_rate_frozen else "half-year")
    rates_used = sorted({s["rate"] for r in rows for s in r["segments"]})
    deadline = today + dt.timedelta(days=deadline_days)
    reference = debtor.ref
    mentions = creditor_mentions(creditor, consumer=consumer, waived=waived)
    notice_interest = legal_interest(
        table, consumer=consumer, template=action.template, today=today,
        earlier_notice=_formal_notice_on(session, action, invoice_ids) if consumer else None)
    # The dispatcher records `penalties.warnings` on the action: the legal ones go there
    # too, so that someone sees them.
    legal_notes = [left_out_warning(sentence) for sentence in mentions.left_out]
    if notice_interest is not None and notice_interest.warning:
        legal_notes.append(notice_interest.warning)
    warnings.extend(note for note in legal_notes if note not in warnings)
    context: dict[str, Any] = {
        "language": language,
        "tone": action.tone,
        "today": date_text(today, language, "long"),
        "today_short": date_text(today, language),
        "deadline": date_text(deadline, language, "long"),
        "deadline_days": deadline_days,
        "action": {"id": action.id, "channel": str(action.channel),
                   "template": action.template, "reference": f"{creditor.code}-{action.id}"},
        "creditor": {
            "code": creditor.code,
            "name": creditor.name,
            "address_lines": lines(creditor.address),
            "country": creditor.country,
            "siren": creditor.siren,
            "vat_number": creditor.vat_number,
            "email": creditor.email,
            "phone": creditor.phone,
            "logo_url": _logo(creditor, workspace_root, facts),
            "legal_mentions": list(mentions.lines),
        },
        "debtor": {
            "ref": debtor.ref,
            "name": debtor.name,
            "address_lines": lines(debtor.address),
            "country": debtor.country,
            "email": debtor.email,
            "phone": debtor.phone,
            "sales_rep": debtor.sales_rep,
            "is_consumer": consumer,
        },
        "invoices": rows,
        "invoice_count": len(rows),
        "reminded_before": _reminded_before(session, action, invoice_ids, facts),
        "registered_letter_too": _registered_letter_too(session, action, invoice_ids, facts),
        "totals": totals,
        "penalties": {
            "applies": applies and bool(penalties_seen),
            "enabled": applies,
            "waived": waived,
            "method": method,
            "rates": rates_used,
            "contractual_rate": _percent(contract_rate, language) if contract_rate else None,
            "indemnity_count": indemnity_count,
            "indemnity_each": money(4000, INDEMNITY_CURRENCY, language),
            "indemnity_total": money(indemnity_total, INDEMNITY_CURRENCY, language),
            "warnings": warnings,
        },
        "legal": {
            "consumer": consumer,
            "penalties_allowed": not consumer,
            "interest": _interest_context(notice_interest, language),
        },
        "payment": {
            "beneficiary": creditor.name,
            "iban": iban_text(creditor.iban),
            "bic": creditor.bic or "",
            "reference": reference,
            "on_behalf_of": None,
        },
        # The firm, on a case it took under mandate only (set below); None: white label.
        "agency": None,
        "portal_url": None,
    }
    if portal is not None and portal.base_url and str(action.channel) in LINKED_CHANNELS:
        context["portal_url"] = issue_link(session, portal, debtor_id=debtor.id,
                                           action=action).url
    case = firm_case(session, action, invoice_ids) if agency is not None else None
    if agency is not None and case is not None:
        firm = agency_context(session, action, case, agency, creditor_code=creditor.code,
                              language=language)
        context["agency"] = firm
        # From the mandate on, the debtor pays the firm's client-funds account, quoting
        # the case (R124-4 4°: how to pay).
        if firm["iban"]:
            context["payment"] = {"beneficiary": firm["name"], "iban": firm["iban"],
                                  "bic": firm["bic"], "reference": case.reference,
                                  "on_behalf_of": creditor.name}
    return LetterData(context=context, invoice_ids=tuple(invoice_ids), totals_minor=totals_minor)
