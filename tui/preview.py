"""What an action will send (the queue's preview) and what it sent (the case's history),
as documents to read on the desk.

The preview is the real thing (`relance.channels.preview.render_preview`): the letter's
PDF, the e-mail, the SMS, written under `outbox/preview/` and sent nowhere, with the
account statement that goes along (`with statement`): its pages follow the letter's,
as they will on paper, and an e-mail's attached PDFs are shown one after the other
(the letter, then the statement). What was
sent is never rendered again: the PDF, e-mail or SMS file the dispatch kept for that
action is read back, so a template changed since does not change what the history
shows. For what the channels do not render (a call task), or when rendering fails (a
template missing, say), the document is a summary of the action read from the store,
and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relance.channels.letter import append_pages
from relance.channels.preview import Preview, read_eml, render_preview
from relance.engine.words import channel_word
from relance.kernel.display import show_date, show_datetime, show_money
from relance.kernel.errors import RelanceError
from relance.kernel.i18n import _, ngettext
from relance.store.models import Action, ActionState
from relance.tui import data
from relance.tui.casefile import state_name
from relance.tui.context import TuiContext

# The states in which the dispatch has written (or handed over) what it sends.
_SENT_STATES = (ActionState.SENT, ActionState.UNCERTAIN)


@dataclass(frozen=True)
class Document:
    """A document for the desk to show: headers (From, To, Subject...), a text, the
    pages of a PDF, and the file a viewer can open."""

    title: str
    headers: tuple[tuple[str, str], ...] = ()
    text: str = ""
    pdf: Path | bytes | None = None
    file: Path | None = None
    note: str = ""  # said first: why a summary is shown, that a file is gone


def summary(ctx: TuiContext, action_id: int) -> str:
    """The action as stored: recipient, invoices and amounts, and the rules behind it."""
    with ctx.reading() as session:
        info = data.action_detail(session, action_id)
    if info is None:
        return _("Action {id} no longer exists.").format(id=action_id)
    action, debtor = info.action, info.debtor
    to = {"letter": debtor.address or debtor.name, "email": debtor.email or "—",
          "sms": debtor.phone or "—", "call": debtor.phone or "—"}.get(action.channel.value, "")
    lines = [
        _("{channel} · template {template} · tone {tone}").format(
            channel=channel_word(action.channel), template=action.template or "—",
            tone=action.tone or "—"),
        _("To: {name} — {address}").format(name=debtor.name, address=to),
        _("From: {name}").format(name=info.creditor.name),
        "",
        _("Invoices:"),
    ]
    total: dict[str, int] = {}
    for line in info.lines:
        amount = show_money(line.balance_minor, line.currency)
        row = _("{number} due {day} {amount}").format(
            number=f"{line.number:<16}", day=show_date(line.due_date), amount=f"{amount:>16}")
        if line.drop_reason is not None:
            row = _("{line}  (left out: {reason})").format(line=row, reason=line.drop_reason)
        lines.append("  " + row)
        if line.drop_reason is None:
            total[line.currency] = total.get(line.currency, 0) + line.balance_minor
    lines.append("  " + "  ".join(_("total {amount}").format(amount=show_money(v, c))
                                  for c, v in total.items()))
    lines += ["", _("Why:")]
    for line in info.lines:
        lines.append(f"  {line.number}: {line.rule} — {line.rule_file}:{line.rule_line}")
    lines.append("  " + _("rules version {version}, run of {day}").format(
        version=info.ruleset, day=show_date(action.created_on)))
    return "\n".join(lines)


def _statement_header(pages: int, after_letter: bool) -> tuple[str, str]:
    """Where the account statement of a `with statement` action is in the document."""
    if after_letter:
        where = ngettext("{count} page, after the letter's",
                         "{count} pages, after the letter's", pages)
    else:
        where = ngettext("{count} page, attached as a PDF of its own",
                         "{count} pages, attached as a PDF of its own", pages)
    return _("Account statement"), where.format(count=pages)


def _one_after_another(pdfs: list[bytes]) -> bytes | None:
    """The PDFs attached to an e-mail as one document, in their order (the letter,
    then the account statement): the desk shows one document's pages."""
    if not pdfs:
        return None
    joined = pdfs[0]
    for more in pdfs[1:]:
        joined, _pages = append_pages(joined, more)
    return joined


def _mail_document(title: str, eml: Path, note: str = "", statement_pages: int = 0
                   ) -> Document:
    """An e-mail as its reader gets it: From, To, Subject, the text, the PDFs attached
    (the letter, the account statement)."""
    mail = read_eml(eml)
    headers = [(_("From"), mail.sender), (_("To"), mail.to), (_("Subject"), mail.subject)]
    if mail.date:
        headers.append((_("Date"), mail.date))
    attached = _one_after_another([content for name, content in mail.attachments
                                   if name.lower().endswith(".pdf")])
    names = ", ".join(name for name, _content in mail.attachments)
    if names:
        headers.append((_("Attached"), names))
    if statement_pages:
        headers.append(_statement_header(statement_pages, after_letter=False))
    headers.append((_("File"), str(eml)))
    return Document(title, tuple(headers), mail.text, attached, eml, note)


def _rendered(ctx: TuiContext, title: str, action_id: int, rendered: Preview,
              note: str) -> Document:
    if rendered.error:
        return Document(title, text=summary(ctx, action_id), note=_(
            "The channels could not render it: {error}").format(error=rendered.error))
    if rendered.eml is not None:
        return _mail_document(title, rendered.eml, note, rendered.statement_pages)
    if rendered.pdf_path is not None:
        statement = ((_statement_header(rendered.statement_pages, after_letter=True),)
                     if rendered.statement_pages else ())
        return Document(title, (*statement, (_("File"), str(rendered.pdf_path))),
                        pdf=rendered.pdf_path, file=rendered.pdf_path, note=note)
    subject = ((_("Subject"), rendered.subject),) if rendered.subject else ()
    return Document(title, subject, rendered.text.strip(), note=note)


def preview_document(ctx: TuiContext, action_id: int, note: str = "") -> Document:
    """What action `action_id` will send, rendered now and sent nowhere."""
    title = _("Preview of action {id}").format(id=action_id)
    try:
        rendered = render_preview(ctx.store, ctx.workspace, action_id, today=ctx.today)
    except RelanceError as exc:
        return Document(title, text=summary(ctx, action_id), note=exc.message)
    except Exception as exc:  # a broken template must not take the desk down
        return Document(title, text=summary(ctx, action_id), note=_(
            "The channels could not render it: {error}").format(error=exc))
    return _rendered(ctx, title, action_id, rendered, note)


def _kept_file(ctx: TuiContext, value: Any) -> Path | None:
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else ctx.workspace.root / path


def sent_document(ctx: TuiContext, action_id: int) -> Document:
    """What action `action_id` sent: the file the dispatch kept for it, read back as it
    is (never rendered again). An action not sent yet shows what it would send today."""
    with ctx.reading() as session:
        action = session.get(Action, action_id)
        if action is None:
            return Document(_("Action {id}").format(id=action_id),
                            note=_("Action {id} no longer exists.").format(id=action_id))
        channel, state = action.channel, action.state
        output = dict(action.output or {})
        sent_at = action.sent_at
    if state not in _SENT_STATES:
        if str(channel) in ("letter", "email", "sms", "notify") and state in (
                ActionState.PROPOSED, ActionState.APPROVED, ActionState.RETRY_WAIT):
            return preview_document(ctx, action_id, note=_(
                "Not sent yet ({state}): what it would send today.").format(
                    state=state_name(state)))
        return Document(_("Action {id}").format(id=action_id), text=summary(ctx, action_id),
                        note=_("{channel} {state}: nothing was sent.").format(
                            channel=channel_word(channel), state=state_name(state)))
    title = _("{channel} sent {moment}").format(
        channel=channel_word(channel), moment=show_datetime(sent_at))
    eml, pdf, sms = (_kept_file(ctx, output.get(key)) for key in ("eml", "pdf", "file"))
    kept = eml or pdf or sms
    if kept is None:
        to = str(output.get("to") or "")
        return Document(title, text=summary(ctx, action_id), note=_(
            "Handed to the mail server or the gateway for {to}: no copy of it was kept, "
            "here is the action as stored.").format(to=to or "—"))
    if not kept.is_file():
        return Document(title, text=summary(ctx, action_id), note=_(
            "What was sent was kept in {path}, which is no longer there.").format(path=kept))
    if eml is not None:
        return _mail_document(title, eml)
    if pdf is not None:
        return Document(title, ((_("File"), str(pdf)),), pdf=pdf, file=pdf)
    assert sms is not None
    return Document(title, ((_("File"), str(sms)),), sms.read_text(encoding="utf-8"),
                    file=sms)
