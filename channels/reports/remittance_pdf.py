"""The remittance statement (relevé de reversement): what the firm collected for a
creditor, its fees and the net it pays, as a PDF from the firm to the creditor.

`save_remittance_statement` is what `relance remit` calls in the remittance's
transaction: it renders the figures the engine worked out (`engine.client_funds.remit`),
writes the PDF whole into `OUTBOX/remittances/` and records its path on the
`Remittance`, so that a remittance without its statement never lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from relance.channels.agency_context import firm_of
from relance.channels.context import iban_text, lines
from relance.channels.reports.files import write_whole
from relance.channels.reports.pdf import render_report
from relance.engine.client_funds import RemittanceFigures, record_statement
from relance.kernel.display import show_amount, show_date, show_money, show_percent
from relance.kernel.i18n import _, current_language, supported, using_language
from relance.kernel.settings import AgencySettings
from relance.kernel.workspace import Workspace
from relance.store.models import Creditor, FundEntryKind

OUTBOX_FOLDER = "remittances"


def _firm_block(agency: AgencySettings | None, creditor: Creditor) -> dict[str, Any]:
    """The sender's block of page.html: the firm (the creditor itself when the
    workspace has no `[agency]`, a company remitting to itself has no one else)."""
    if agency is None:
        return {"name": creditor.name, "address_lines": lines(creditor.address),
                "siren": creditor.siren, "vat_number": None, "email": creditor.email,
                "phone": creditor.phone, "logo_url": None, "legal_mentions": []}
    mentions = []
    if agency.insurer:
        mentions.append(_("Professional liability insurance: {insurer}, policy {policy}")
                        .format(insurer=agency.insurer, policy=agency.insurance_policy or ""))
    return {"name": agency.name, "address_lines": list(agency.address_lines),
            "siren": agency.siren, "vat_number": None, "email": agency.email,
            "phone": agency.phone, "logo_url": None, "legal_mentions": mentions}


def _labels(figures: RemittanceFigures, creditor: Creditor,
            agency: AgencySettings | None) -> dict[str, str]:
    r = figures.remittance
    if figures.since is not None:
        period = _("Funds collected from {start} to {end}").format(
            start=show_date(figures.since), end=show_date(r.until))
    else:
        period = _("Funds collected up to {end}").format(end=show_date(r.until))
    account = _("Paid from the client funds account.")
    if agency is not None and agency.funds_iban:
        account = _("Paid from the client funds account IBAN {iban}{bic}.").format(
            iban=iban_text(agency.funds_iban),
            bic=f" BIC {agency.funds_bic}" if agency.funds_bic else "")
    return {
        "period": period,
        "made": _("remittance made on {day} by {user}").format(day=show_date(r.made_on),
                                                               user=r.made_by),
        "entries": _("Payments collected and reversed"),
        "day": _("Date"), "debtor": _("Debtor"), "case": _("Case"),
        "invoices": _("Invoices"), "payment": _("Payment"), "kind": _("Entry"),
        "amount": _("Amount ({currency})").format(currency=r.currency),
        "fees_heading": _("Fees by case"),
        "case_collected": _("Collected ({currency})").format(currency=r.currency),
        "rate": _("Fee rate"),
        "percent_fee": _("Percentage fee ({currency})").format(currency=r.currency),
        "fixed_fee": _("Fixed fee ({currency})").format(currency=r.currency),
        "collected": _("Collected"), "percent_fees": _("Fees on sums collected"),
        "fixed_fees": _("Fixed fees"), "fees": _("Total fees"),
        "net": _("Net to pay to {creditor}").format(creditor=creditor.name)
        if r.net_minor >= 0 else _("Owed by {creditor} to the firm").format(
            creditor=creditor.name),
        "rounding": _("Each case's percentage fee is rounded to the cent, half away from "
                      "zero; a case's fixed fee is charged once, at its first remittance "
                      "with money collected, and never more than that money less the "
                      "percentage fee. A reversed payment counts negative in the "
                      "remittance that follows it."),
        "owed_back": "" if r.net_minor >= 0 else _(
            "Reversals exceed what was collected in this period: the difference is owed "
            "back to the firm."),
        "account": account,
        "to_account": _("To the creditor's account IBAN {iban}.").format(
            iban=iban_text(creditor.iban)) if creditor.iban and r.net_minor > 0 else "",
    }


def _kind(kind: str) -> str:
    return _("collected") if kind == FundEntryKind.COLLECTED.value else _("reversed")


def remittance_pdf(session: Session, figures: RemittanceFigures, *,
                   workspace_root: Path | None, templates_dir: Path | None,
                   agency: AgencySettings | None, language: str | None = None) -> bytes:
    """The statement of a remittance as PDF bytes, in `language` (default: the one
    being spoken, which is the firm's)."""
    r = figures.remittance
    creditor = session.get(Creditor, r.creditor_id)
    if creditor is None:
        raise LookupError(f"no creditor {r.creditor_id}")
    speaks = supported(language) or current_language()
    with using_language(speaks):
        currency = r.currency
        context = {
            "language": speaks,
            "title": _("Remittance statement {reference}").format(reference=r.reference),
            "labels": _labels(figures, creditor, agency),
            "creditor": _firm_block(agency, creditor),
            "client": {"name": creditor.name, "address_lines": lines(creditor.address)},
            "entries": [{"day": show_date(line.booked_on),
                         "debtor": f"{line.debtor_name} ({line.debtor_ref})",
                         "case": line.case_reference,
                         "invoices": ", ".join(line.invoices),
                         "payment": line.payment_reference or str(line.payment_id),
                         "kind": _kind(line.kind),
                         "amount": show_amount(line.amount_minor, currency)}
                        for line in figures.lines],
            "cases": [{"case": c.case_reference,
                       "debtor": f"{c.debtor_name} ({c.debtor_ref})",
                       "collected": show_amount(c.collected_minor, currency),
                       "rate": show_percent(c.percent),
                       "percent_fee": show_amount(c.percent_fee_minor, currency),
                       "fixed_fee": show_amount(c.fixed_fee_minor, currency)}
                      for c in figures.cases],
            "totals": {"collected_amount": show_amount(r.collected_minor, currency),
                       "collected": show_money(r.collected_minor, currency),
                       "percent_fees": show_money(figures.percent_fees_minor, currency),
                       "fixed_fees": show_money(figures.fixed_fees_minor, currency),
                       "fees": show_money(r.fees_minor, currency),
                       "net": show_money(r.net_minor, currency)},
        }
        return render_report("remittance.html", context, creditor=creditor,
                             workspace_root=workspace_root, templates_dir=templates_dir)


def statement_file(workspace: Workspace, figures: RemittanceFigures) -> Path:
    """`OUTBOX/remittances/REM-ACME-3-EUR.pdf`."""
    r = figures.remittance
    return Path(workspace.outbox_dir) / OUTBOX_FOLDER / f"{r.reference}-{r.currency}.pdf"


def save_remittance_statement(session: Session, workspace: Workspace,
                              figures: RemittanceFigures) -> Path:
    """Render the statement, write it whole into the outbox and record its path on the
    remittance (in the caller's transaction)."""
    pdf = remittance_pdf(session, figures, workspace_root=Path(workspace.root),
                         templates_dir=workspace.templates_dir, agency=firm_of(workspace))
    path = write_whole(pdf, statement_file(workspace, figures))
    record_statement(session, figures.remittance, str(path))
    return path
