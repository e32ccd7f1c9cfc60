"""The debtor's page, `/d/{token}`: their open invoices with the legal penalties as a
letter counts them, the letters sent to them, and how to pay by bank transfer (with the
EPC QR code banking apps scan). Opening it is recorded (`engine.portal_links`).

The figures are the letters' own (`channels.context.invoice_figures`), counted to the
day of the visit; the payment block is the one the link's message printed (a collection
firm's client-funds account on a case under mandate), else the creditor's account.

The debtor's actions (`web.debtor_actions`) show inside this page through the template
`action_panel.html`, included when it exists, with the same context.

A view costs three queries (the link with its debtor and creditor, the open invoices,
the letters) in one session; the visit is written only when it starts one
(`engine.portal_links.needs_recording`); the QR code of a payload already drawn is
reused. docs/web.md, "Under load", gives the figures.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from relance.channels.agency_context import firm_of
from relance.channels.context import build_context, iban_text, invoice_figures
from relance.engine.portal_links import needs_recording
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
from relance.web.common import (
    Opened,
    PageRefused,
    Visit,
    gettext_for,
    portal_of,
    render,
    visit_of,
    visit_with,
)
from relance.web.epc_qr import EPC_CURRENCY, epc_payload, qr_svg

QR_TITLE = N_("QR code of the bank transfer")
LETTER_FILE = N_("letter")
# The QR codes drawn lately, by payload: drawing one (the masks tried in turn) costs
# more than the rest of the page, and a debtor's payload stays the same all day. About
# 6 kB each.
QR_CACHE_SIZE = 2048


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


# The page's queries, built once (building one costs more than SQLite takes to answer).
_SENT_LETTERS = select(Action).where(
    Action.debtor_id == bindparam("debtor"), Action.channel == Channel.LETTER,
    Action.state == ActionState.SENT).order_by(Action.sent_at.desc(), Action.id.desc())
_OPEN_INVOICES = select(Invoice).where(
    Invoice.debtor_id == bindparam("debtor"), Invoice.status == InvoiceStatus.OPEN,
    Invoice.balance_minor > 0).order_by(Invoice.due_date, Invoice.number)


def sent_letters(session: Session, visit: Visit) -> list[SentLetter]:
    """The letters sent to this visit's debtor whose PDF is still in the outbox, newest
    first."""
    actions = session.scalars(_SENT_LETTERS, {"debtor": visit.debtor_id}).all()
    if not actions:
        return []
    outbox = visit.workspace.outbox_dir.resolve()
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
    agency = firm_of(visit.workspace)
    # Without a collection firm every message printed the creditor's account: the
    # message's whole context need not be built again to find it.
    action = session.get(Action, link.action_id) \
        if agency is not None and link.action_id is not None else None
    if action is not None and action.debtor_id == debtor.id:
        data = build_context(session, action, today=visit.today,
                             workspace_root=visit.workspace.root, agency=agency)
        payment: dict[str, Any] = data.context["payment"]
        return payment
    return {"beneficiary": creditor.name, "iban": iban_text(creditor.iban),
            "bic": creditor.bic or "", "reference": debtor.ref, "on_behalf_of": None}


@functools.lru_cache(maxsize=QR_CACHE_SIZE)
def _qr_code(payload: str, title: str) -> str:
    return qr_svg(payload, title=title)


def _page_context(session: Session, visit: Visit,
                  opened: Opened) -> tuple[dict[str, Any], bool]:
    """Everything the page shows, read in the session that opened the link, and whether
    this view starts a visit (to be recorded)."""
    gettext, ngettext = gettext_for(visit.language)
    creditor, debtor = opened.creditor, opened.debtor
    invoices = session.scalars(_OPEN_INVOICES, {"debtor": debtor.id}).all()
    figures = invoice_figures(creditor, debtor, invoices, today=visit.today,
                              language=visit.language)
    payment = _payment(session, visit, creditor, debtor, opened.link)
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
        qr = _qr_code(payload, gettext(QR_TITLE))
    context = {
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
    return context, needs_recording(opened.link)


async def debtor_page(request: Request) -> Response:
    visit, (context, starts_visit) = await visit_with(request, _page_context)
    if starts_visit:
        await portal_of(request).visits.record(visit.link_id)
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
