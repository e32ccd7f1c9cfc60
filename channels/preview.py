"""Preview: one action rendered as it would be sent, written under `outbox/preview/`,
sent nowhere and changed nothing.

The preview prepares the action with the dispatcher's own `Renderer` (same context,
same templates, same e-mail building, same file names), so what an operator reads
before approving is what the dispatch would send that day. Only the last step differs:
the files go to the preview folder and nothing is claimed, started or recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relance.channels import mail, sms
from relance.channels.claims import DISPATCHED_CHANNELS
from relance.channels.config import dispatch_config, sms_config
from relance.channels.letter import write_pdf
from relance.channels.prepare import Prepared, Renderer, outbox_file
from relance.channels.templates import default_templates_dir
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Action, Creditor


@dataclass(frozen=True)
class Preview:
    """An action rendered without sending: its text, and the files written for a look."""

    text: str
    pdf_path: Path | None
    eml: Path | None
    subject: str | None = None
    error: str | None = None


def render_preview(store: Store, workspace: Workspace, action_id: int,
                   today: dt.date | None = None) -> Preview:
    """Render action `action_id` into `outbox/preview/` as the dispatch would on `today`
    (default: today). Raises `NotFound` for an unknown action and `UsageError` for one
    no channel renders (a call, an escalation); a template that fails is `Preview.error`."""
    day = today or dt.date.today()
    renderer = Renderer(store, workspace, day, dispatch_config(workspace))
    with store.transaction() as session:
        action = session.scalars(select(Action).where(Action.id == action_id)
                                 .options(selectinload(Action.items))).one_or_none()
        if action is None:
            raise NotFound(f"no action {action_id}")
        if str(action.channel) not in DISPATCHED_CHANNELS:
            raise UsageError(f"action {action_id} is a {action.channel}: nothing to render")
        prepared = renderer.prepare(session, action)
    if prepared.error:
        return Preview("", None, None, error=prepared.error)
    outbox = Path(workspace.outbox_dir) / "preview"

    def file(kind: str, suffix: str) -> Path:
        return outbox_file(outbox, kind, day, prepared, suffix)

    if prepared.channel == "letter":
        pdf = _letter_pdf(store, renderer, prepared, file("letters", ".pdf"))
        return Preview(_pdf_text(pdf), pdf, None, prepared.subject)
    if prepared.channel == "sms":
        return Preview(_sms_sheet(workspace, prepared), None, None, prepared.subject)
    return _mail_preview(renderer, prepared, file("emails", ".eml"), file("emails", ".pdf"))


def _letter_pdf(store: Store, renderer: Renderer, prepared: Prepared, path: Path) -> Path:
    with store.transaction() as session:
        creditor = session.scalars(select(Creditor).where(
            Creditor.code == prepared.creditor_code)).one()
        roots = renderer.resource_roots(creditor)
    return write_pdf(prepared.letter_html or "", path, base_dir=default_templates_dir(),
                     roots=roots).path


def _sms_sheet(workspace: Workspace, prepared: Prepared) -> str:
    """The SMS as the dispatch files it: the number it goes to, its length and parts."""
    text = prepared.text or ""
    config = sms_config(workspace)
    try:
        number = sms.to_e164(prepared.recipient, config.default_region if config else "FR")
    except sms.PhoneInvalid as exc:
        # Shown rather than raised: the operator sees the rest of the message and why
        # the dispatch would fail it.
        number = f"invalid number: {exc.message}"
    return f"To: {number}\n{sms.sms_size(text).describe()}\n\n{text}"


def _mail_preview(renderer: Renderer, prepared: Prepared, eml_path: Path,
                  pdf_path: Path) -> Preview:
    """The e-mail (or internal alert) as built for the SMTP server, with its letter."""
    try:
        # The envelope sender is the SMTP exchange's business: nothing to show.
        message, _ = renderer.message(prepared, None, attach_to=pdf_path, envelope=None)
    except mail.HeaderRefused as exc:
        return Preview(prepared.text or "", None, None, prepared.subject, exc.message)
    eml = mail.write_eml(message, eml_path)
    return Preview(prepared.text or "", pdf_path if pdf_path.exists() else None, eml,
                   prepared.subject)


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


__all__ = ["Preview", "render_preview"]
