"""Creditors as records of their own: adding one, changing its identity, and what a
message of each channel still needs of it.

A creditor is the company whose receivables are chased: its legal name, SIREN, address
and IBAN go on its letters, its sender address on its e-mails. An import creates a
creditor from its code alone; `relance creditor add|edit|load` and the desk's Creditors
screen complete it, through `add_creditor` and `edit_creditor` here. Each runs in the
caller's transaction and appends its audit event there, so the change and its record
land together or not at all. Only a credit manager adds or changes a creditor.

`missing_identity` is what the dispatch asks before it renders anything: the fields a
letter, an e-mail or an SMS needs and the creditor lacks (engine/creditor_fields.py
says which channel needs which).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relance.engine.creditor_fields import (
    BY_KEY,
    CHANNELS,
    FIELDS,
    CreditorField,
    FieldRefused,
    check_fields,
    missing_fields,
    stored_value,
)
from relance.engine.roles import Actor, NotAllowed, require_credit_manager
from relance.engine.scope import creditor_ids
from relance.kernel.errors import NotFound, UsageError
from relance.kernel.i18n import _
from relance.store import audit
from relance.store.importing.cells import creditor_code_problem
from relance.store.models import Creditor, Debtor, Invoice, InvoiceStatus


class CreditorExists(UsageError):
    """`creditor add` of a code already taken."""


def find_creditor(session: Session, actor: Actor | None, code: str) -> Creditor:
    """The creditor of that code, if the actor may see it (else: not found, as if it did
    not exist)."""
    creditor = session.scalars(select(Creditor).where(Creditor.code == code.strip())).first()
    if creditor is None or (actor is not None and not actor.sees(creditor.code)):
        raise NotFound(_("no creditor {code!r}: `relance creditor list` shows them").format(
            code=code))
    return creditor


def _event_value(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def add_creditor(session: Session, actor: Actor, fields: Mapping[str, Any], *,
                 root: Path | None = None, source: str | None = None) -> Creditor:
    """A new creditor from `fields` by key (`code` and `name` at least; see
    `creditor_fields.FIELDS` for the others), checked, with its `creditor.created` event.
    `root` is the workspace, where a logo must be; `source` names a file it came from."""
    require_credit_manager(actor, _("add a creditor"))
    values = dict(fields)
    code = str(values.pop("code", "") or "").strip()
    problem = creditor_code_problem(code) if code else _("give the creditor's code")
    if problem is not None:
        raise UsageError(problem)
    if not actor.sees(code):
        raise NotAllowed(_("{user} may not work for creditor {code}").format(
            user=actor.name, code=code))
    if session.scalars(select(Creditor.id).where(Creditor.code == code)).first() is not None:
        raise CreditorExists(_("creditor {code} exists already: change it with `relance "
                               "creditor edit {code}`").format(code=code))
    if not values.get("name"):
        raise FieldRefused(BY_KEY["name"], _("a new creditor needs its legal name"))
    cleaned = check_fields(values, root=root, country=_text_or_none(values.get("country")))
    creditor = Creditor(code=code, **cleaned)
    session.add(creditor)
    session.flush()
    data: dict[str, Any] = {"code": code, "fields": {
        key: _event_value(cleaned[BY_KEY[key].column]) for key in values}}
    if source:
        data["source"] = source
    audit.record(session, actor=actor.name, kind="creditor.created",
                 subject_type="creditor", subject_id=code, data=data,
                 creditor_id=creditor.id)
    return creditor


def _text_or_none(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


@dataclass
class Edited:
    """What an edit changed: the creditor, and the fields whose value is new."""

    creditor: Creditor
    changed: list[str] = field(default_factory=list)


def edit_creditor(session: Session, actor: Actor, code: str, changes: Mapping[str, Any],
                  *, root: Path | None = None, source: str | None = None) -> Edited:
    """Change the fields of `changes` (by key) and nothing else, checked as a whole (a
    SIRET must still start with the SIREN), with a `creditor.edited` event saying what
    each changed field was and is. Values equal to the stored ones change nothing and
    record nothing."""
    require_credit_manager(actor, _("change a creditor"))
    creditor = find_creditor(session, actor, code)
    changes = dict(changes)
    if "name" in changes and not changes["name"]:
        raise FieldRefused(BY_KEY["name"], _("it cannot be empty"))
    siren_given = "siren" in changes
    cleaned = check_fields(
        changes, root=root,
        siren=None if siren_given else creditor.siren,
        country=None if "country" in changes else creditor.country)
    siren = cleaned["siren"] if siren_given else creditor.siren
    siret = cleaned["siret"] if "siret" in changes else creditor.siret
    if siren and siret and siret[:9] != siren:
        # The SIREN just changed under a SIRET of the old company, or the reverse.
        blamed = BY_KEY["siren"] if siren_given and "siret" not in changes else BY_KEY["siret"]
        raise FieldRefused(blamed, _("SIRET {siret} does not start with the SIREN {siren}")
                           .format(siret=siret, siren=siren))
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    edited = Edited(creditor)
    for key in changes:
        column = BY_KEY[key].column
        old, new = getattr(creditor, column), cleaned[column]
        if _event_value(old) == _event_value(new):
            continue
        before[key], after[key] = _event_value(old), _event_value(new)
        setattr(creditor, column, new)
        edited.changed.append(key)
    if not edited.changed:
        return edited
    session.flush()
    data: dict[str, Any] = {"code": creditor.code, "before": before, "after": after}
    if source:
        data["source"] = source
    audit.record(session, actor=actor.name, kind="creditor.edited",
                 subject_type="creditor", subject_id=creditor.code, data=data,
                 creditor_id=creditor.id)
    return edited


def missing_identity_fields(creditor: Creditor, channel: str, *,
                            default_sender: str | None = None) -> list[CreditorField]:
    """The fields (records) a message of `channel` needs and `creditor` lacks."""
    return missing_fields(creditor, channel, default_sender=default_sender)


def missing_identity(creditor: Creditor, channel: str, *,
                     default_sender: str | None = None) -> list[str]:
    """What a message of `channel` (letter, email, sms) needs and `creditor` lacks, as a
    person names it (`legal name`, `IBAN`…, translated); empty when nothing is missing.
    `default_sender` is `[smtp] from`, which stands in for a missing sender address."""
    return [missing.shown_label for missing in
            missing_fields(creditor, channel, default_sender=default_sender)]


def identity_gaps(creditor: Creditor, *, default_sender: str | None = None
                  ) -> dict[str, list[CreditorField]]:
    """Per channel (letter, email, sms), the fields it lacks; channels lacking nothing
    are left out."""
    gaps = {channel: missing_fields(creditor, channel, default_sender=default_sender)
            for channel in CHANNELS}
    return {channel: lacking for channel, lacking in gaps.items() if lacking}


def creditor_values(creditor: Creditor) -> dict[str, Any]:
    """Every field by key, as stored (for `show`, JSON and the desk's form)."""
    return {f.key: _event_value(stored_value(creditor, f)) for f in FIELDS}


@dataclass(frozen=True)
class CreditorLine:
    """A creditor as `creditor list` and the desk's screen show it."""

    creditor_id: int
    code: str
    name: str
    siren: str | None
    debtors: int
    # Open balance per currency, minor units, currencies in alphabetical order.
    balances: dict[str, int]
    gaps: dict[str, list[CreditorField]]


def creditor_lines(session: Session, actor: Actor | None, *,
                   default_sender: str | None = None) -> list[CreditorLine]:
    """The creditors the actor may see, by code, with their debtors, open balance and
    what their identity lacks per channel."""
    statement = select(Creditor).order_by(Creditor.code)
    ids = creditor_ids(session, actor)
    if ids is not None:
        statement = statement.where(Creditor.id.in_(ids))
    creditors = list(session.scalars(statement))
    wanted = [c.id for c in creditors]
    debtors: dict[int, int] = {
        creditor_id: int(count) for creditor_id, count in session.execute(
            select(Debtor.creditor_id, func.count(Debtor.id))
            .where(Debtor.creditor_id.in_(wanted)).group_by(Debtor.creditor_id))}
    balances: dict[int, dict[str, int]] = {}
    for creditor_id, currency, total in session.execute(
            select(Invoice.creditor_id, Invoice.currency, func.sum(Invoice.balance_minor))
            .where(Invoice.creditor_id.in_(wanted), Invoice.status == InvoiceStatus.OPEN,
                   Invoice.balance_minor != 0)
            .group_by(Invoice.creditor_id, Invoice.currency)
            .order_by(Invoice.currency)):
        balances.setdefault(creditor_id, {})[currency] = int(total or 0)
    return [CreditorLine(c.id, c.code, c.name, c.siren, debtors.get(c.id, 0),
                         balances.get(c.id, {}),
                         identity_gaps(c, default_sender=default_sender))
            for c in creditors]


__all__ = [
    "CreditorExists", "CreditorLine", "Edited", "add_creditor", "creditor_lines",
    "creditor_values", "edit_creditor", "find_creditor", "identity_gaps",
    "missing_identity", "missing_identity_fields",
]
