"""What stops or resumes the chasing of a case: pauses, disputes, promises to pay, and a
level started again; and the notes kept on it.

Each change checks the actor's role, locks what it changes, appends its audit event and
settles the debtor's queue in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from relance.engine.case_locking import (
    Conflict,
    audit_debtor,
    audit_invoice,
    clean_reason,
    locked_debtor,
    locked_invoices,
)
from relance.engine.roles import Actor, require_note, require_write
from relance.kernel.display import show_date
from relance.kernel.errors import ConfigError, NotFound, UsageError
from relance.kernel.i18n import _
from relance.kernel.money import Money
from relance.kernel.workspace import Workspace
from relance.store import book
from relance.store.models import Invoice, InvoiceLevel, Note, Promise, PromiseStatus

DEFAULT_DISPUTE_REASONS = ("quality", "delivery", "price", "not_ordered", "other")


def dispute_reasons(workspace: Workspace) -> list[str]:
    """`[disputes] reasons` of relance.toml: the words a dispute may be opened with (from
    the command line, the desk or the debtor's page), so that reports count disputes by
    reason."""
    reasons = workspace.section("disputes").get("reasons", list(DEFAULT_DISPUTE_REASONS))
    if (not isinstance(reasons, list) or not reasons
            or not all(isinstance(r, str) and r.strip() for r in reasons)):
        raise ConfigError(_("{config}: [disputes] reasons must be a list of words, e.g. "
                            "{example}").format(config=workspace.config_label,
                                                example='["quality", "delivery", "price"]'))
    return [r.strip() for r in reasons]

# `seen_paused_until` left out: the caller did not show a pause, so none is compared.
_UNCHANGED: Any = object()


def pause(session: Session, actor: Actor, debtor_id: int, *, until: dt.date, reason: str,
          today: dt.date, seen_paused_until: dt.date | None = _UNCHANGED) -> None:
    """Pause every reminder to a debtor up to and including `until`."""
    require_write(actor, _("pause a case"))
    text = clean_reason(reason, _("a pause"))
    if until < today:
        raise UsageError(_("a pause must end today or later, not {day}").format(
            day=show_date(until)))
    debtor = locked_debtor(session, debtor_id, actor)
    if seen_paused_until is not _UNCHANGED and debtor.paused_until != seen_paused_until:
        raise _pause_changed(debtor.name, debtor.paused_until)
    previous, previous_reason = debtor.paused_until, debtor.pause_reason
    debtor.paused_until, debtor.pause_reason = until, text
    audit_debtor(session, actor, debtor, "debtor.paused",
                 {"until": until.isoformat(), "reason": text,
                  "previous": previous.isoformat() if previous else None,
                  "previous_reason": previous_reason})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause="pause")


def resume(session: Session, actor: Actor, debtor_id: int, *, reason: str, today: dt.date,
           seen_paused_until: dt.date | None = _UNCHANGED) -> None:
    """End a debtor's pause now."""
    require_write(actor, _("resume a case"))
    text = clean_reason(reason, _("resuming a case"))
    debtor = locked_debtor(session, debtor_id, actor)
    if seen_paused_until is not _UNCHANGED and debtor.paused_until != seen_paused_until:
        raise _pause_changed(debtor.name, debtor.paused_until)
    if debtor.paused_until is None or debtor.paused_until < today:
        raise UsageError(_("{debtor} is not paused").format(debtor=debtor.name))
    previous, previous_reason = debtor.paused_until, debtor.pause_reason
    debtor.paused_until, debtor.pause_reason = None, None
    audit_debtor(session, actor, debtor, "debtor.resumed",
                 {"reason": text, "was_until": previous.isoformat(),
                  "was_reason": previous_reason})


def _pause_changed(name: str, now: dt.date | None) -> Conflict:
    if now is None:
        return Conflict(_("{debtor}'s pause was changed meanwhile (now not paused): reload")
                        .format(debtor=name))
    return Conflict(_("{debtor}'s pause was changed meanwhile (now {day}): reload").format(
        debtor=name, day=show_date(now)))


def open_dispute(session: Session, actor: Actor, invoice_ids: Sequence[int], *, reason: str,
                 today: dt.date) -> None:
    """Mark invoices disputed: reminders about them stop until the dispute is closed."""
    require_write(actor, _("open a dispute"))
    text = clean_reason(reason, _("a dispute"))
    invoices = locked_invoices(session, invoice_ids, actor)
    for invoice in invoices:
        if invoice.dispute_reason is not None:
            since = show_date(invoice.disputed_since) if invoice.disputed_since else "?"
            raise Conflict(_("invoice {number} is already disputed since {day} ({reason})")
                           .format(number=invoice.number, day=since,
                                   reason=invoice.dispute_reason))
        invoice.dispute_reason, invoice.disputed_since = text, today
        audit_invoice(session, actor, invoice, "invoice.dispute_opened", {"reason": text})
    book.settle_case(session, debtor_ids={i.debtor_id for i in invoices}, today=today,
                     actor=actor.name, cause="dispute")


def close_dispute(session: Session, actor: Actor, invoice_ids: Sequence[int], *,
                  resolution: str) -> None:
    """Close the dispute on invoices: they are chased again."""
    require_write(actor, _("close a dispute"))
    text = clean_reason(resolution, _("closing a dispute"))
    for invoice in locked_invoices(session, invoice_ids, actor):
        if invoice.dispute_reason is None:
            raise Conflict(_("invoice {number} is not disputed (any more)").format(
                number=invoice.number))
        data = {"resolution": text, "reason": invoice.dispute_reason,
                "since": invoice.disputed_since.isoformat() if invoice.disputed_since else None}
        invoice.dispute_reason, invoice.disputed_since = None, None
        audit_invoice(session, actor, invoice, "invoice.dispute_closed", data)


def add_promise(session: Session, actor: Actor, debtor_id: int, *, promised_on: dt.date,
                today: dt.date, amount: Money | None = None,
                invoice_id: int | None = None) -> Promise:
    """Record a promise to pay by `promised_on` (inclusive), of an amount or of all."""
    require_write(actor, _("record a promise"))
    if promised_on < today:
        raise UsageError(_("a promise must be for today or later, not {day}").format(
            day=show_date(promised_on)))
    if amount is not None and amount.minor <= 0:
        raise UsageError(_("a promised amount must be positive"))
    debtor = locked_debtor(session, debtor_id, actor)
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.debtor_id != debtor.id:
            raise NotFound(_("no invoice {id} for {debtor}").format(id=invoice_id,
                                                                    debtor=debtor.name))
    promise = Promise(creditor_id=debtor.creditor_id, debtor_id=debtor.id,
                      invoice_id=invoice_id, promised_on=promised_on,
                      currency=amount.currency if amount else None,
                      amount_minor=amount.minor if amount else None,
                      status=PromiseStatus.OPEN, recorded_by=actor.name)
    session.add(promise)
    session.flush()
    audit_debtor(session, actor, debtor, "promise.added",
                 {"promise_id": promise.id, "promised_on": promised_on.isoformat(),
                  "amount": str(amount) if amount else None, "invoice_id": invoice_id})
    book.settle_case(session, debtor_ids=[debtor.id], today=today, actor=actor.name,
                     cause="promise")
    return promise


def add_note(session: Session, actor: Actor, debtor_id: int, body: str, *,
             invoice_id: int | None = None) -> Note:
    """A free-text note on the case (the portal's people may add one too)."""
    require_note(actor, _("add a note"))
    text = body.strip()
    if not text:
        raise UsageError(_("a note cannot be empty"))
    debtor = locked_debtor(session, debtor_id, actor)
    note = Note(creditor_id=debtor.creditor_id, debtor_id=debtor.id, invoice_id=invoice_id,
                author=actor.name, body=text)
    session.add(note)
    session.flush()
    audit_debtor(session, actor, debtor, "note.added", {"note_id": note.id, "body": text})
    return note


def reset_level(session: Session, actor: Actor, invoice_id: int, policy: str, *,
                reason: str, today: dt.date) -> None:
    """Start an invoice again at the beginning of a policy's ladder."""
    require_write(actor, _("reset a level"))
    text = clean_reason(reason, _("a level reset"))
    invoice = locked_invoices(session, [invoice_id], actor)[0]
    level = session.get(InvoiceLevel, (invoice_id, policy))
    previous = level.rule if level else None
    if level is None:
        level = InvoiceLevel(invoice_id=invoice_id, policy=policy)
        session.add(level)
    level.rule, level.acted_on = None, today
    session.flush()
    audit_invoice(session, actor, invoice, "level.reset",
                  {"policy": policy, "previous_rule": previous, "reason": text})

