"""Preview: one action rendered as it would be sent, written under `outbox/preview/`,
sent nowhere and changed nothing.

The preview prepares the action with the dispatcher's own `Renderer` (same context,
same templates, same e-mail building, same file names), so what an operator reads
before approving is what the dispatch would send that day, the account statement of a
rule `with statement` included (after the letter's pages, or as the e-mail's second
PDF). Only the last step differs: the files go to the preview folder and nothing is
claimed, started or recorded.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relance.channels import mail, sms
from relance.channels.claims import DISPATCHED_CHANNELS
from relance.channels.config import dispatch_config, sms_config
from relance.channels.letter import write_pdf
from relance.channels.prepare import Prepared, Renderer, outbox_file
from relance.channels.templates import default_templates_dir
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
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
    # The pages of the account statement that goes along (`with statement`): the last
    # pages of the letter's PDF, or the e-mail's second PDF. 0: no statement.
    statement_pages: int = 0


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
            raise NotFound(_("no action {id}").format(id=action_id))
        if str(action.channel) not in DISPATCHED_CHANNELS:
            raise UsageError(_("action {id} is a {channel}: nothing to render").format(
                id=action_id, channel=action.channel))
        prepared = renderer.prepare(session, action)
    if prepared.error:
        return Preview("", None, None, error=prepared.error)
    outbox = Path(workspace.outbox_dir) / "preview"

    def file(kind: str, suffix: str) -> Path:
        return outbox_file(outbox, kind, day, prepared, suffix)

    statement_pages = _page_count(prepared.statement) if prepared.statement else 0
    if prepared.channel == "letter":
        pdf = _letter_pdf(store, renderer, prepared, file("letters", ".pdf"))
        return Preview(_pdf_text(pdf), pdf, None, prepared.subject,
                       statement_pages=statement_pages)
    if prepared.channel == "sms":
        return Preview(_sms_sheet(workspace, prepared), None, None, prepared.subject)
    mailed = _mail_preview(renderer, prepared, file("emails", ".eml"), file("emails", ".pdf"))
    return replace(mailed, statement_pages=statement_pages if mailed.eml else 0)


def _letter_pdf(store: Store, renderer: Renderer, prepared: Prepared, path: Path) -> Path:
    """The letter's PDF as the dispatch writes it: the statement's pages after the
    letter's when the action asks for it (`channels.dispatch`'s letter jobs)."""
    with store.transaction() as session:
        creditor = session.scalars(select(Creditor).where(
            Creditor.code == prepared.creditor_code)).one()
        roots = renderer.resource_roots(creditor)
    return write_pdf(prepared.letter_html or "", path, base_dir=default_templates_dir(),
                     roots=roots, appendix=prepared.statement or b"").path


def _page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def _sms_sheet(workspace: Workspace, prepared: Prepared) -> str:
    """The SMS as the dispatch files it: the number it goes to, its length and parts."""
    text = prepared.text or ""
    config = sms_config(workspace)
    try:
        number = sms.to_e164(prepared.recipient, config.default_region if config else "FR")
    except sms.PhoneInvalid as exc:
        # Shown rather than raised: the operator sees the rest of the message and why
        # the dispatch would fail it.
        number = _("invalid number: {reason}").format(reason=exc.message)
    to = _("To: {number}").format(number=number)
    return f"{to}\n{sms.sms_size(text).describe()}\n\n{text}"


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
    return "\n\f\n".join(pdf_layout(path))


# --------------------------------------------------------------------------- reading

# A run of text ending like an amount or a figure: it is right-aligned in its column.
_FIGURE_END = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "€", "$", "£", "%")
_MOST_BLANK_LINES = 2
# A run of text on a page: left, bottom, right, top (points from the bottom-left), text.
_Run = tuple[float, float, float, float, str]


def pdf_layout(source: Path | bytes) -> list[str]:
    """Each page of a PDF as laid-out text (as `pdftotext -layout` does): every run of
    text at its place on a grid of characters, so that a table keeps its columns and
    its amounts stay right-aligned under their heading. Reading order alone would put
    an amount under the wrong invoice."""
    import pypdfium2

    document = pypdfium2.PdfDocument(source)
    try:
        return [_page_layout(document[index]) for index in range(len(document))]
    finally:
        document.close()


def _page_layout(page: Any) -> str:
    text_page = page.get_textpage()
    runs: list[_Run] = []
    for index in range(text_page.count_rects()):
        left, bottom, right, top = text_page.get_rect(index)
        text = text_page.get_text_bounded(left, bottom, right, top).strip()
        if text:
            runs.append((left, bottom, right, top, text))
    if not runs:
        return ""
    # A column is the page's mean character width; a line is the usual step from one
    # line's top to the next (the fifth smallest, so a table's taller rows do not count);
    # a step of one and a half lines or more keeps a blank line, as the page shows one.
    width = sum(r[2] - r[0] for r in runs) / sum(len(r[4]) for r in runs)
    margin = min(r[0] for r in runs)
    lines: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: -r[3]):
        if lines and _same_line(lines[-1][0], run):
            lines[-1].append(run)
        else:
            lines.append([run])
    tops = [max(r[3] for r in line) for line in lines]
    steps = [above - below for above, below in pairwise(tops)]
    pitch = sorted(steps)[len(steps) // 5] if steps else 1.0  # body text, not gaps
    out: list[str] = []
    for index, line in enumerate(lines):
        if index:
            blank = int(steps[index - 1] / pitch - 0.5)
            out.extend([""] * max(0, min(blank, _MOST_BLANK_LINES)))
        out.append(_line_text(line, width, margin))
    return "\n".join(out)


def _same_line(first: _Run, run: _Run) -> bool:
    """Whether two runs share a line: they overlap by a third of the smaller's height
    (a footer's page number sits a little higher than the text beside it)."""
    overlap = min(first[3], run[3]) - max(first[1], run[1])
    return overlap > min(first[3] - first[1], run[3] - run[1]) / 3


def _line_text(line: list[_Run], width: float, margin: float) -> str:
    text = ""
    for left, _bottom, right, _top, words in sorted(line, key=lambda r: r[0]):
        if words.endswith(_FIGURE_END):
            start = round((right - margin) / width) - len(words)
        else:
            start = round((left - margin) / width)
        gap = 1 if text else 0
        text = text.ljust(max(start, len(text) + gap)) + words
    return text


@dataclass(frozen=True)
class MailView:
    """An e-mail as its reader gets it: who from, to whom, the subject, the text, and
    the attached files."""

    sender: str
    to: str
    subject: str
    date: str
    text: str
    attachments: tuple[tuple[str, bytes], ...]


def read_eml(path: Path) -> MailView:
    """The e-mail written at `path` (as the dispatch or the preview wrote it)."""
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    files: list[tuple[str, bytes]] = []
    for part in message.iter_attachments():
        content = part.get_payload(decode=True)
        files.append((part.get_filename() or "", content if isinstance(content, bytes) else b""))
    return MailView(str(message.get("From", "")), str(message.get("To", "")),
                    str(message.get("Subject", "")), str(message.get("Date", "")),
                    str(text), tuple(files))


__all__ = ["MailView", "Preview", "pdf_layout", "read_eml", "render_preview"]
