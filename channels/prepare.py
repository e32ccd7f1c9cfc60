"""Rendering an action for its channel, before anything of it is started.

`Renderer.prepare` never raises for one action's sake: whatever goes wrong while
building its context or rendering its templates (a missing template, the sandbox's
refusal, a macro that calls itself until Python's recursion limit) becomes
`Prepared.error`, and the dispatcher fails that action alone, with the reason, before
committing that its side effect started. A template error is deterministic, so the
action is failed, not retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.channels import mail, sms
from relance.channels.agency_context import firm_of
from relance.channels.agency_mentions import refusal as firm_message_refusal
from relance.channels.batches import slug
from relance.channels.config import DispatchConfig, notify_addresses, sender_address
from relance.channels.context import LetterData, build_context, message_link_keys
from relance.channels.fund_notices import (
    addressed_to_creditor,
    creditor_recipient,
    firm_sender,
    message_language,
    with_fund_notice,
)
from relance.channels.group_facts import GroupFacts
from relance.channels.letter import PdfRendererMissing, write_pdf
from relance.channels.portal_acks import with_portal_ack
from relance.channels.reasons import Reason, of_exception, reason
from relance.channels.render import (
    ResolvedTemplate,
    TemplateMissing,
    TemplateProblem,
    render,
    resolve,
)
from relance.channels.reports.statement_pdf import statement_pdf
from relance.channels.templates import default_templates_dir, search_folders
from relance.engine.creditors import missing_identity_fields
from relance.kernel.i18n import N_, supported
from relance.kernel.workspace import Workspace
from relance.store.content import wants_statement
from relance.store.db import Store
from relance.store.models import Action, Creditor, Debtor, utcnow


@dataclass
class Prepared:
    """An action rendered and ready for its channel (or `error`: why it cannot be)."""

    action_id: int
    channel: str
    creditor_code: str
    debtor_ref: str
    template: str
    data: LetterData
    letter_html: str | None = None
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    recipient: str | None = None
    recipient_name: str | None = None
    sender: tuple[str | None, str | None] = (None, None)  # (name, address)
    reply_to: str | None = None
    idempotency_key: str = ""
    failure: Reason | None = None  # why it cannot be sent, in both forms
    debtor_name: str = ""
    # `with statement`: the debtor's account statement as PDF, and its file name when
    # it goes as an attachment.
    statement: bytes | None = None
    statement_name: str = ""

    @property
    def error(self) -> str | None:
        """Why it cannot be sent, in the reader's language (None: it can)."""
        return self.failure.shown if self.failure is not None else None


def outbox_file(outbox: Path, kind: str, day: dt.date, prepared: Prepared,
                suffix: str) -> Path:
    """Where a prepared action's file goes: `OUTBOX/KIND/DAY/`, named after the action,
    its creditor, debtor and template, the same for a send, a dry run and a preview."""
    name = (f"{prepared.action_id:06d}-{slug(prepared.creditor_code)}-"
            f"{slug(prepared.debtor_ref)}-{slug(prepared.template)}{suffix}")
    return outbox / kind / day.isoformat() / name


# The statement attachment's name, in the debtor's language (a file name: no spaces).
_STATEMENT_FILE = {"fr": "releve", "en": "statement"}


def _crash_reason(action: Action, channel: str, exc: BaseException) -> Reason:
    """A rendering crash in words an operator can act on (the template to fix)."""
    template = action.template or ""
    name = exc.__class__.__name__
    if isinstance(exc, RecursionError):
        return reason(N_("template {template!r} for {channel} could not be rendered: "
                         "{error}: {detail} (a macro, include or extends that calls "
                         "itself?)"),
                      template=template, channel=channel, error=name, detail=str(exc))
    if not str(exc):
        return reason(N_("template {template!r} for {channel} could not be rendered: "
                         "{error}: no detail"),
                      template=template, channel=channel, error=name)
    return reason(N_("template {template!r} for {channel} could not be rendered: "
                     "{error}: {detail}"),
                  template=template, channel=channel, error=name, detail=str(exc))


class Renderer:
    def __init__(self, store: Store, workspace: Workspace, today: dt.date,
                 config: DispatchConfig) -> None:
        self.store = store
        self.workspace = workspace
        self.today = today
        self.config = config
        root = getattr(workspace, "root", None)
        self.root: Path | None = Path(root).resolve() if root is not None else None
        tdir = getattr(workspace, "templates_dir", None)
        self.templates_dir: Path | None = Path(tdir).resolve() if tdir is not None else None
        self.notify = notify_addresses(workspace) if workspace is not None else {}
        # `[smtp] from` signs for a creditor without an address of its own, with or
        # without an SMTP host (without one, e-mails go to the outbox all the same).
        self.default_sender = sender_address(workspace) if workspace is not None else None
        # A collection firm's workspace: its messages on cases under mandate speak for it.
        self.agency = firm_of(workspace)
        # The debtor's personal link in each message, when `[web]` is configured.
        self.portal_keys = message_link_keys(workspace)
        # (creditor, template, channel, language, tone) -> its files, or why none.
        self._resolved: dict[tuple[str, str, str, str, str | None],
                             ResolvedTemplate | TemplateProblem] = {}
        # (name, address, whose) -> the checked mailbox (`_mailbox`).
        self._mailboxes: dict[tuple[str | None, str, str], Address] = {}

    def _resolve(self, *, creditor: str, name: str, channel: str, language: str,
                 tone: str | None) -> ResolvedTemplate:
        """`render.resolve`, once per template and language in this dispatch: the files
        it finds (or that there are none) hold for the dispatch's every action; its
        directory listing and checks are not repeated for each."""
        return self._once((creditor, name, channel, language, tone),
                          lambda: resolve(self.templates_dir, creditor=creditor, name=name,
                                          channel=channel, language=language, tone=tone))

    def _base_email(self, creditor: str) -> ResolvedTemplate:
        """`resolve_base_email`, once per creditor in this dispatch."""
        return self._once((creditor, "", "_base/email.html", "", None),
                          lambda: resolve_base_email(self.templates_dir, creditor))

    def _once(self, key: tuple[str, str, str, str, str | None],
              find: Callable[[], ResolvedTemplate]) -> ResolvedTemplate:
        # A template that cannot be used is remembered too, and refused again as found.
        found = self._resolved.get(key)
        if found is None:
            try:
                found = find()
            except TemplateProblem as exc:
                found = exc
            self._resolved[key] = found
        if isinstance(found, TemplateProblem):
            raise found.with_traceback(None)
        return found

    def resource_roots(self, creditor: Creditor) -> list[Path]:
        roots = [default_templates_dir().resolve()]
        if self.templates_dir is not None:
            roots.append(self.templates_dir)
        if creditor.logo_path and self.root is not None:
            logo = Path(creditor.logo_path)
            logo = (logo if logo.is_absolute() else self.root / logo).resolve()
            if logo.is_relative_to(self.root):
                roots.append(logo)
        return roots

    def letter_html(self, session: Session, action: Action, creditor: Creditor,
                    debtor: Debtor, data: LetterData) -> tuple[str, Path]:
        resolved = self._resolve(creditor=creditor.code,
                           name=action.template or "", channel="letter",
                           language=debtor.language or "fr", tone=action.tone)
        context = dict(data.context)
        context["language"] = resolved.language
        context["assets"] = {"fonts_url": (default_templates_dir() / "_base" / "fonts")
                             .resolve().as_uri()}
        rendered = render(self.templates_dir, resolved, "html", context,
                          creditor=creditor.code)
        return rendered.body, resolved.files["html"].parent

    def prepare(self, session: Session, action: Action,
                facts: GroupFacts | None = None) -> Prepared:
        """`action` rendered for its channel; `facts`: its group's, when the caller read
        them for the group (`context.group_facts`)."""
        creditor = session.get(Creditor, action.creditor_id)
        debtor = session.get(Debtor, action.debtor_id)
        assert creditor is not None and debtor is not None
        channel = str(action.channel)
        prepared = Prepared(action.id, channel, creditor.code, debtor.ref,
                            action.template or "", LetterData({}, (), {}),
                            idempotency_key=action.idempotency_key,
                            debtor_name=debtor.name or "")
        # Before anything is rendered: a letter without the creditor's SIREN or IBAN, an
        # e-mail without a sender, must not go out (engine/creditor_fields.py: who needs
        # what). The fields are named in English for the record, translated when read.
        lacking = missing_identity_fields(creditor, channel,
                                          default_sender=self.default_sender)
        if lacking:
            prepared.failure = reason(
                N_("creditor {code} lacks {fields}: complete it with `relance creditor "
                   "edit {code}`"), code=creditor.code,
                fields=Reason(", ".join(f.label for f in lacking),
                              ", ".join(f.shown_label for f in lacking)))
            return prepared
        try:
            prepared.data = build_context(session, action, today=self.today,
                                          workspace_root=self.root,
                                          deadline_days=self.config.deadline_days,
                                          agency=self.agency, portal=self.portal_keys,
                                          facts=facts)
            # A receipt or a creditor's notice of money the firm collected: its facts.
            prepared.data = with_fund_notice(session, action, prepared.data,
                                            self.workspace)
            # What a debtor did on their page, acknowledged: its facts.
            prepared.data = with_portal_ack(action, prepared.data)
        except Exception as exc:  # one debtor's data must not stop the others' sends
            prepared.failure = reason(
                N_("the figures of action {action} could not be computed: {error}"),
                action=action.id, error=of_exception(exc))
            return prepared
        try:
            self._render(session, action, creditor, debtor, prepared)
        except (TemplateProblem, mail.HeaderRefused) as exc:
            prepared.failure = exc.reason
        except Exception as exc:  # any crash of one template fails that action alone
            prepared.failure = _crash_reason(action, channel, exc)
        if prepared.failure is None:
            # A firm's first letter lacking a mention of CPCE R124-4, or a later message
            # not recalling it, does not go out (channels/agency_mentions.py).
            prepared.failure = firm_message_refusal(
                channel, prepared.data.context, letter_html=prepared.letter_html,
                text=prepared.text, subject=prepared.subject)
        if prepared.failure is None and channel in ("letter", "email") and wants_statement(
                action.output):
            self._statement(session, debtor, prepared)
        return prepared

    def _statement(self, session: Session, debtor: Debtor, prepared: Prepared) -> None:
        """The account statement that goes along: as of the day of sending, in the
        debtor's language, like the letter it goes with."""
        language = supported(debtor.language) or "fr"
        try:
            prepared.statement = statement_pdf(
                session, debtor.id, on=self.today, workspace_root=self.root,
                templates_dir=self.templates_dir, language=language)
        except PdfRendererMissing:
            raise  # no PDF can render on this machine: the dispatcher stops and requeues
        except Exception as exc:  # one debtor's statement must not stop the others' sends
            prepared.failure = reason(
                N_("the account statement of debtor {debtor} could not be rendered: "
                   "{error}"), debtor=debtor.ref, error=of_exception(exc))
            return
        prepared.statement_name = (f"{_STATEMENT_FILE.get(language, 'releve')}-"
                                   f"{slug(debtor.ref)}.pdf")

    def _render(self, session: Session, action: Action, creditor: Creditor, debtor: Debtor,
                prepared: Prepared) -> None:
        data = prepared.data
        if prepared.channel == "letter":
            prepared.letter_html, _folder = self.letter_html(session, action, creditor, debtor,
                                                             data)
        elif prepared.channel in ("email", "notify"):
            self._prepare_mail(session, action, creditor, debtor, data, prepared)
        elif prepared.channel == "sms":
            resolved = self._resolve(creditor=creditor.code,
                               name=action.template or "", channel="sms",
                               language=debtor.language or "fr", tone=action.tone)
            text = render(self.templates_dir, resolved, "txt", data.context,
                          creditor=creditor.code).body
            prepared.text = sms.normalise_text(text)
            prepared.recipient = debtor.phone

    def _prepare_mail(self, session: Session, action: Action, creditor: Creditor,
                      debtor: Debtor, data: LetterData, prepared: Prepared) -> None:
        channel = str(action.channel)
        resolved = self._resolve(creditor=creditor.code,
                           name=action.template or "", channel=channel,
                           language=message_language(action, debtor.language),
                           tone=action.tone)
        context = dict(data.context)
        text = render(self.templates_dir, resolved, "txt", context, creditor=creditor.code)
        prepared.text = text.body.strip() + "\n"
        prepared.subject = text.subject or (action.template or "")
        if "html" in resolved.files:
            prepared.html = render(self.templates_dir, resolved, "html", context,
                                   creditor=creditor.code).body
        else:
            paragraphs = [p.split("\n") for p in prepared.text.split("\n\n") if p.strip()]
            base = self._base_email(creditor.code)
            prepared.html = render(self.templates_dir, base, "html",
                                   {**context, "subject": prepared.subject,
                                    "paragraphs": paragraphs},
                                   creditor=creditor.code).body
        prepared.sender = (creditor.name, creditor.email or self.default_sender)
        prepared.reply_to = creditor.reply_to
        if channel == "email" and addressed_to_creditor(action):
            # A payment the firm collected, told to the creditor (R124-5): no letter.
            prepared.recipient_name, prepared.recipient = creditor_recipient(creditor)
            prepared.sender, prepared.reply_to = firm_sender(self.workspace, prepared.sender)
        elif channel == "email":
            prepared.recipient = debtor.email
            prepared.recipient_name = debtor.name
            if data.context.get("agency") or data.context.get("receipt"):
                # A case under mandate, or the receipt of money the firm received: the
                # firm writes, from its own address.
                prepared.sender, prepared.reply_to = firm_sender(self.workspace,
                                                                 prepared.sender)
            # The letter goes along as PDF when the template has one.
            with contextlib.suppress(TemplateMissing):
                prepared.letter_html, _folder = self.letter_html(session, action, creditor,
                                                                 debtor, data)
        else:
            role = action.notify_role or "sales_rep"
            who = debtor.sales_rep if role == "sales_rep" else None
            address = None
            if who and "@" in who:
                address = who
            elif who:
                address = self.notify.get(who)
            address = address or self.notify.get(role)
            if not address and who:
                raise TemplateProblem(reason(
                    N_("no e-mail address for {role} {who!r} of debtor {debtor}: add it "
                       "under [notify] in relance.toml"),
                    role=role, who=who, debtor=debtor.ref))
            if not address:
                raise TemplateProblem(reason(
                    N_("no e-mail address for {role} of debtor {debtor}: add it under "
                       "[notify] in relance.toml"),
                    role=role, debtor=debtor.ref))
            prepared.recipient = address
            prepared.recipient_name = who if who and "@" not in who else None


    def message(self, p: Prepared, pdf: Path | None, *, attach_to: Path,
                envelope: str | None) -> tuple[Any, str]:
        """The e-mail of a prepared action and its envelope sender; its letter is
        attached (rendered to `attach_to` unless `pdf` already holds it)."""
        parts, envelope_from = self._message_parts(p, pdf, attach_to=attach_to,
                                                   envelope=envelope)
        return mail.build_message(**parts), envelope_from

    def message_data(self, p: Prepared, pdf: Path | None, *, attach_to: Path,
                     envelope: str | None) -> tuple[bytes, str, str]:
        """`message` as the bytes sent and kept (`mail.build_message_bytes`, the same
        bytes without the library's slow paths), its envelope sender and Message-ID."""
        parts, envelope_from = self._message_parts(p, pdf, attach_to=attach_to,
                                                   envelope=envelope)
        return mail.build_message_bytes(**parts), envelope_from, str(parts["msg_id"])

    def _mailbox(self, name: str | None, addr: str, what: str) -> Address:
        """`mail.mailbox`, checked once per dispatch for each creditor's From and
        Reply-To (the same on all its messages); a refused one is checked again, and
        refused again, each time."""
        key = (name, addr, what)
        found = self._mailboxes.get(key)
        if found is None:
            found = self._mailboxes[key] = mail.mailbox(name, addr, what)
        return found

    def _message_parts(self, p: Prepared, pdf: Path | None, *, attach_to: Path,
                       envelope: str | None) -> tuple[dict[str, Any], str]:
        what = "debtor" if p.channel == "email" else "recipient"
        if not p.recipient and p.channel == "email":
            raise mail.HeaderRefused(reason(N_("debtor {ref} has no e-mail address"),
                                            ref=p.debtor_ref))
        if not p.recipient:
            raise mail.HeaderRefused(reason(N_("recipient {ref} has no e-mail address"),
                                            ref=p.debtor_ref))
        to = mail.mailbox(p.recipient_name, p.recipient, what)
        sender_name, sender_addr = p.sender
        if not sender_addr:
            raise mail.HeaderRefused(reason(
                N_("creditor {code} has no e-mail address and [smtp] from is not set"),
                code=p.creditor_code))
        sender = self._mailbox(sender_name, sender_addr, "creditor")
        reply_to = self._mailbox(sender_name, p.reply_to, "reply-to") if p.reply_to else None
        attachments: list[mail.Attachment] = []
        if p.letter_html and p.channel == "email":
            if pdf is None:
                with self.store.transaction() as session:
                    creditor = session.scalars(select(Creditor).where(
                        Creditor.code == p.creditor_code)).one()
                    roots = self.resource_roots(creditor)
                pdf = write_pdf(p.letter_html, attach_to, base_dir=default_templates_dir(),
                                roots=roots).path
            attachments.append(mail.Attachment(
                f"{slug(p.template)}-{slug(p.debtor_ref)}.pdf", pdf.read_bytes()))
        if p.statement and p.channel == "email":
            attachments.append(mail.Attachment(p.statement_name, p.statement))
        return {"sender": sender, "to": to, "reply_to": reply_to, "subject": p.subject or "",
                "text": p.text or "", "html": p.html, "attachments": attachments,
                "msg_id": mail.message_id(p.idempotency_key or str(p.action_id),
                                          sender.domain),
                "date": utcnow()}, envelope or sender_addr


def resolve_base_email(templates_dir: Path | None, creditor: str) -> Any:
    for folder in search_folders(templates_dir, creditor):
        path = folder / "_base" / "email.html"
        if path.is_file():
            return ResolvedTemplate("_base", "email", "fr", None, folder, {"html": path})
    raise TemplateProblem(reason(N_("no _base/email.html template")))


__all__ = ["Prepared", "Renderer", "outbox_file", "resolve_base_email"]
