"""The debtor's page, `/d/{token}`: their open invoices with the legal penalties as a
letter counts them, the letters sent to them, and how to pay by bank transfer (with the
EPC QR code banking apps scan). Opening it is recorded (`engine.portal_links`).

The figures are the letters' own (`channels.context.invoice_figures`), counted to the
day of the visit; the payment block is the one the link's message printed (a collection
firm's client-funds account on a case under mandate), else the creditor's account.

The debtor's actions (`web.debtor_actions`) show inside this page through the template
`action_panel.html`, included when it exists, with the same context.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from relance.channels.context import build_context, invoice_figures
from relance.engine.portal_links import record_opening
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.i18n import N_
from relance.store.models import (
    Action,
    ActionState,
    Channel,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    PortalLink,
)
from relance.web.common import PageRefused, Visit, gettext_for, render, visit_of
from relance.web.epc_qr import EPC_CURRENCY, epc_payload, qr_svg

QR_TITLE = N_("QR code of the bank transfer")
LETTER_FILE = N_("letter")


@dataclass(frozen=True)
class SentLetter:
    """A letter sent to the debtor, as the page offers it for download."""

    key: str
    sent_on: dt.date
    path: Path


def _letter_key(secret: bytes, token: str, action_id: int) -> str:
    # Bound to the link: a key seen on one debtor's page opens nothing on another's,
    # and the address carries no action number.
    message = f"relance-portal-letter\0{token}\0{action_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:24]


def sent_letters(session: Session, visit: Visit) -> list[SentLetter]:
    """The letters sent to this visit's debtor whose PDF is still in the outbox, newest
    first."""
    outbox = visit.workspace.outbox_dir.resolve()
    actions = session.scalars(select(Action).where(
        Action.debtor_id == visit.debtor_id, Action.channel == Channel.LETTER,
        Action.state == ActionState.SENT).order_by(Action.sent_at.desc(), Action.id.desc()))
    letters = []
    for action in actions:
        pdf = (action.output or {}).get("pdf")
        if not isinstance(pdf, str):
            continue
        path = Path(pdf).resolve()
        # Only a file the dispatch wrote in this workspace's outbox is ever handed out.
        if not path.is_relative_to(outbox) or not path.is_file():
            continue
        sent = action.sent_at.date() if action.sent_at else action.created_on
        letters.append(SentLetter(_letter_key(visit.secret, visit.token, action.id), sent,
                                  path))
    return letters


def _payment(session: Session, visit: Visit, creditor: Creditor, debtor: Debtor,
             link: PortalLink) -> dict[str, Any]:
    """The payment block of the link's message, as it printed it; else the creditor's."""
    action = session.get(Action, link.action_id) if link.action_id is not None else None
    if action is not None and action.debtor_id == debtor.id:
        from relance.channels.agency_context import firm_of

        data = build_context(session, action, today=visit.today,
                             workspace_root=visit.workspace.root,
                             agency=firm_of(visit.workspace))
        payment: dict[str, Any] = data.context["payment"]
        return payment
    compact = "".join((creditor.iban or "").split()).upper()
    return {"beneficiary": creditor.name,
            "iban": " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)),
            "bic": creditor.bic or "", "reference": debtor.ref, "on_behalf_of": None}


def _page_context(visit: Visit) -> dict[str, Any]:
    """Everything the page shows, read in one transaction that also records the visit."""
    gettext, ngettext = gettext_for(visit.language)
    with visit.store.write_transaction() as session:
        record_opening(session, visit.link_id)
        link = session.get(PortalLink, visit.link_id)
        debtor = session.get(Debtor, visit.debtor_id)
        creditor = session.get(Creditor, visit.creditor_id)
        if link is None or debtor is None or creditor is None:
            raise PageRefused(404)
        invoices = session.scalars(select(Invoice).where(
            Invoice.debtor_id == debtor.id, Invoice.status == InvoiceStatus.OPEN,
            Invoice.balance_minor > 0).order_by(Invoice.due_date, Invoice.number)).all()
        figures = invoice_figures(creditor, debtor, invoices, today=visit.today,
                                  language=visit.language)
        payment = _payment(session, visit, creditor, debtor, link)
        letters = sent_letters(session, visit)
    disputed = {inv.number for inv in invoices if inv.disputed}
    rows = [{**row, "disputed": row["number"] in disputed} for row in figures.rows]
    due_in_euros = figures.totals_minor.get(EPC_CURRENCY, 0)
    qr = None
    # The EPC code carries euros only; an account in another currency has no code.
    if payment.get("iban") and due_in_euros > 0 and set(figures.totals_minor) == {
            EPC_CURRENCY}:
        payload = epc_payload(name=str(payment["beneficiary"]), iban=str(payment["iban"]),
                              bic=str(payment.get("bic") or ""), amount_minor=due_in_euros,
                              reference=str(payment["reference"]))
        qr = qr_svg(payload, title=gettext(QR_TITLE))
    return {
        "debtor": {"name": debtor.name, "ref": debtor.ref},
        "today": show_date(visit.today, visit.language),
        "invoices": rows,
        "open_count": ngettext("{count} open invoice", "{count} open invoices",
                               len(rows)).format(count=show_count(len(rows), visit.language)),
        "totals": figures.totals,
        "penalties": {"applies": figures.applies and bool(figures.penalties),
                      "indemnity_count": figures.indemnity_count,
                      "indemnity_each": show_money(4000, "EUR", visit.language)},
        "payment": payment,
        "amount_due": show_money(due_in_euros, EPC_CURRENCY, visit.language)
        if due_in_euros else None,
        "qr_svg": qr,
        "letters": [{"key": letter.key, "sent_on": show_date(letter.sent_on, visit.language)}
                    for letter in letters],
    }


async def debtor_page(request: Request) -> Response:
    visit = await visit_of(request)
    context = await run_in_threadpool(_page_context, visit)
    return render(request, visit, "debtor.html", context)


def _find_letter(visit: Visit, key: str) -> SentLetter:
    with visit.store.session() as session:
        for letter in sent_letters(session, visit):
            if hmac.compare_digest(letter.key, key):
                return letter
    raise PageRefused(404)


async def letter_download(request: Request) -> Response:
    visit = await visit_of(request)
    letter = await run_in_threadpool(_find_letter, visit, str(request.path_params["key"]))
    gettext, _ngettext = gettext_for(visit.language)
    name = f"{gettext(LETTER_FILE)}-{letter.sent_on.isoformat()}.pdf"
    return FileResponse(letter.path, media_type="application/pdf", filename=name)


def routes() -> list[BaseRoute]:
    """The page and its letters: `/d/{token}`, `/d/{token}/letters/{key}`."""
    return [Route("/d/{token}", debtor_page, methods=["GET"]),
            Route("/d/{token}/letters/{key}", letter_download, methods=["GET"])]
