"""The account statement (relevé de compte) as a PDF in the creditor's branding.

`statement_pdf` is what anything that sends a statement calls (the command line, a
reminder that attaches one): it reads the figures (`engine.statement`) and returns the
PDF's bytes. The statement speaks the debtor's language, like the letters it may go
with, unless another is asked for.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from relance.channels.context import lines
from relance.channels.reports.labels import movement_label
from relance.channels.reports.pdf import branding, render_report
from relance.engine.statement import DEFAULT_DAYS, Statement, StatementSection, account_statement
from relance.kernel.display import show_amount, show_date, show_money
from relance.kernel.i18n import _, supported, using_language
from relance.store.models import Creditor, Debtor


def _labels(statement: Statement) -> dict[str, str]:
    return {
        "account": _("Account {ref}").format(ref=statement.party.ref),
        "period": _("items open, and what moved from {start} to {end}").format(
            start=show_date(statement.since), end=show_date(statement.on)),
        "date": _("Date"), "piece": _("Piece"), "label": _("Label"), "due": _("Due"),
        "brought_forward": _("Balance brought forward"), "total": _("Totals and balance"),
        "overdue": _("Of which overdue"), "not_due": _("Of which not yet due"),
        "on_account": _("Credits not yet used"),
        "nothing": _("Nothing is open on this account and nothing moved in the period."),
        "note": _("A positive balance is owed to us, a negative one is owed to you. "
                  "Please tell us of any difference within 15 days."),
    }


def _amount(minor: int, currency: str) -> str:
    return show_amount(minor, currency) if minor else ""


def _section(statement: Statement, section: StatementSection) -> dict[str, Any]:
    currency = section.currency
    opening_debit = max(section.brought_forward, 0)
    opening_credit = max(-section.brought_forward, 0)
    return {
        "heading": _("Account in {currency}").format(currency=currency),
        "debit_heading": _("Debit ({currency})").format(currency=currency),
        "credit_heading": _("Credit ({currency})").format(currency=currency),
        "balance_heading": _("Balance ({currency})").format(currency=currency),
        "since": show_date(statement.since), "on": show_date(statement.on),
        "brought_forward": show_amount(section.brought_forward, currency),
        "rows": [{"day": show_date(line.movement.day), "piece": line.movement.piece,
                  "label": movement_label(line.movement), "due": show_date(line.movement.due),
                  "debit": _amount(line.movement.debit, currency),
                  "credit": _amount(line.movement.credit, currency),
                  "balance": show_amount(line.balance, currency)}
                 for line in section.lines],
        "debit": show_amount(opening_debit + section.debit, currency),
        "credit": show_amount(opening_credit + section.credit, currency),
        "balance": show_amount(section.balance, currency),
        "overdue": show_money(section.overdue, currency),
        "not_due": show_money(section.not_due, currency),
        "on_account": show_money(section.on_account, currency) if section.on_account else "",
        "due_label": _("Balance due on {day}").format(day=show_date(statement.on)),
        "balance_money": show_money(section.balance, currency),
    }


def render_statement(session: Session, statement: Statement, *,
                     workspace_root: Path | None = None, templates_dir: Path | None = None,
                     language: str | None = None) -> bytes:
    """A statement already worked out, as PDF bytes."""
    debtor = session.get(Debtor, statement.party.debtor_id)
    creditor = session.get(Creditor, statement.party.creditor_id)
    if debtor is None or creditor is None:
        raise LookupError(f"no debtor {statement.party.debtor_id}")
    speaks = supported(language) or supported(debtor.language) or "fr"
    with using_language(speaks):
        context = {
            "language": speaks,
            "title": _("Account statement on {day}").format(day=show_date(statement.on)),
            "labels": _labels(statement),
            "creditor": branding(creditor, workspace_root),
            "debtor": {"name": debtor.name, "ref": debtor.ref,
                       "address_lines": lines(debtor.address)},
            "sections": [_section(statement, section) for section in statement.sections],
        }
        return render_report("statement.html", context, creditor=creditor,
                             workspace_root=workspace_root, templates_dir=templates_dir)


def statement_pdf(session: Session, debtor_id: int, *, on: dt.date, days: int = DEFAULT_DAYS,
                  workspace_root: Path | None = None, templates_dir: Path | None = None,
                  language: str | None = None) -> bytes:
    """The statement of debtor `debtor_id` as of `on` (the last `days` days shown), as
    PDF bytes in its creditor's branding and, by default, the debtor's language."""
    statement = account_statement(session, debtor_id, on=on, days=days)
    return render_statement(session, statement, workspace_root=workspace_root,
                            templates_dir=templates_dir, language=language)
