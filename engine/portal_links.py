"""The debtor's personal links: issued for a communication, resolved, opened, revoked.

A token is 16 bytes (128 bits) followed by a 10-byte tag, HMAC-SHA256 of those bytes
under the workspace's web secret, written in URL-safe base64 (35 characters). A token
whose tag does not match was forged or mistyped: it is refused before the database is
asked anything. The store keeps only the SHA-256 of a token, so a copy of the database
opens nobody's page.

The 16 bytes of a link carried by a communication are derived from the secret and the
action's idempotency key (itself unique and never reused): preparing the same action
again, after a crash or a retry, prints the same link and finds the same row, so a
message can never carry a link whose row was lost with a rolled-back attempt. A link
issued by hand (`issue_link` without an action) takes 16 random bytes.

The secret comes from `RELANCE_WEB_SECRET`, else from `[web] secret_file`, a file only
its owner may read; changing it voids every link issued before.

Opening a page is written once per visit: a view within 30 minutes of the visit's first
opening reads its link and writes nothing (`needs_recording`), so reloads and a busy
page cost no write (docs/web.md, "Under load").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from relance.kernel.errors import ConfigError
from relance.kernel.i18n import _
from relance.kernel.workspace import Workspace
from relance.store.audit import Entry, record, record_many
from relance.store.models import Action, Creditor, Debtor, PortalLink, utcnow

SECRET_ENV = "RELANCE_WEB_SECRET"
# Below this, a secret is a password someone typed, not a key.
SECRET_MIN_CHARS = 32
BODY_BYTES = 16
TAG_BYTES = 10
TOKEN_CHARS = 35  # base64 of 26 bytes, without padding
# An opening within this time of the recorded one is the same visit: neither counted
# nor logged again (a debtor reloading the page must not fill the audit log, nor cost a
# write per view).
SAME_VISIT = dt.timedelta(minutes=30)
OPENED_EVENT = "portal.opened"
REVOKED_EVENT = "portal.revoked"
ISSUED_EVENT = "portal.issued"


class LinkProblem(StrEnum):
    """Why a token opens nothing. Told apart in the log; the visitor sees one page."""

    FORGED = "forged"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class LinkKeys:
    """What issuing and checking links needs: the secret, where the page is, how long a
    link lasts."""

    secret: bytes
    base_url: str | None
    link_days: int

    def url(self, token: str) -> str | None:
        """The address of the page a token opens; None without `[web] base_url`."""
        return f"{self.base_url}/d/{token}" if self.base_url else None


@dataclass(frozen=True)
class IssuedLink:
    link_id: int
    token: str
    url: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class Resolution:
    """A token looked up: the link it opens with its debtor and creditor (read in the
    same query), or why it opens nothing."""

    link: PortalLink | None
    problem: LinkProblem | None
    debtor: Debtor | None = None
    creditor: Creditor | None = None


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _secret_from_file(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(_("{path}: the web secret cannot be read ({reason})").format(
            path=path, reason=exc.strerror)) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(_("{path}: the web secret must be readable by its owner only "
                            "(chmod 600 {path})").format(path=path))
    return path.read_bytes().strip()


def load_secret(workspace: Workspace) -> bytes | None:
    """The secret that signs the links: `RELANCE_WEB_SECRET`, else `[web] secret_file`;
    None when neither is set. A secret too short or a file others may read is refused."""
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        secret, origin = from_env.encode(), SECRET_ENV
    else:
        name = workspace.settings.web.secret_file
        if name is None:
            return None
        path = Path(name) if Path(name).is_absolute() else workspace.root / name
        secret, origin = _secret_from_file(path), str(path)
    if len(secret) < SECRET_MIN_CHARS:
        raise ConfigError(_("{origin}: the web secret must be at least {count} characters "
                            "long (for instance: python3 -c 'import secrets; "
                            "print(secrets.token_urlsafe(48))')").format(
            origin=origin, count=SECRET_MIN_CHARS))
    return secret


def link_keys(workspace: Workspace) -> LinkKeys | None:
    """The workspace's keys, or None when no secret is configured."""
    secret = load_secret(workspace)
    if secret is None:
        return None
    web = workspace.settings.web
    return LinkKeys(secret=secret, base_url=web.base_url, link_days=web.link_days)


def _tag(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, b"relance-portal-tag\0" + body, hashlib.sha256).digest()[:TAG_BYTES]


def _token(secret: bytes, body: bytes) -> str:
    return base64.urlsafe_b64encode(body + _tag(secret, body)).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_genuine(secret: bytes, token: str) -> bool:
    """Whether `token` carries a valid tag (it was issued with this secret)."""
    if len(token) != TOKEN_CHARS:
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        return False
    if len(raw) != BODY_BYTES + TAG_BYTES:
        return False
    # Compared as text, the canonical encoding: one token, one spelling.
    return hmac.compare_digest(_token(secret, raw[:BODY_BYTES]), token)


def _action_body(secret: bytes, action: Action) -> bytes:
    message = b"relance-portal-link\0" + action.idempotency_key.encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:BODY_BYTES]


def issue_link(session: Session, keys: LinkKeys, *, debtor_id: int,
               action: Action | None = None, actor: str = "relance",
               now: dt.datetime | None = None) -> IssuedLink:
    """The personal link of `debtor_id`, bound to `action` when given (the same link
    however many times that action is prepared), in the caller's transaction."""
    moment = now or utcnow()
    if action is not None:
        if action.debtor_id != debtor_id:
            raise ValueError(f"action {action.id} is not debtor {debtor_id}'s")
        token = _token(keys.secret, _action_body(keys.secret, action))
        existing = session.scalars(select(PortalLink).where(
            PortalLink.token_hash == token_hash(token))).first()
        if existing is not None:
            return IssuedLink(existing.id, token, keys.url(token),
                              _aware(existing.expires_at))
    else:
        token = _token(keys.secret, secrets.token_bytes(BODY_BYTES))
    link = PortalLink(token_hash=token_hash(token), debtor_id=debtor_id,
                      action_id=action.id if action is not None else None,
                      created_at=moment,
                      expires_at=moment + dt.timedelta(days=keys.link_days),
                      opened_count=0)
    session.add(link)
    session.flush()
    if action is None:
        # A link given by hand is someone's decision: the log says whose.
        debtor = session.get(Debtor, debtor_id)
        record(session, actor=actor, kind=ISSUED_EVENT, subject_type="portal_link",
               subject_id=link.id, data={"expires_at": link.expires_at.isoformat()},
               creditor_id=debtor.creditor_id if debtor else None, debtor_id=debtor_id)
    return IssuedLink(link.id, token, keys.url(token), moment + dt.timedelta(
        days=keys.link_days))


# Built once: the page runs it at every view, and building a statement costs more than
# SQLite takes to answer it.
_LINK_WITH_OWNERS = (select(PortalLink, Debtor, Creditor)
                     .join(Debtor, Debtor.id == PortalLink.debtor_id)
                     .join(Creditor, Creditor.id == Debtor.creditor_id)
                     .where(PortalLink.token_hash == bindparam("hash")))


def resolve(session: Session, secret: bytes, token: str,
            now: dt.datetime | None = None) -> Resolution:
    """The link `token` opens (with its debtor and creditor, one query), or why it opens
    nothing; a forged token is refused without a query."""
    if not is_genuine(secret, token):
        return Resolution(None, LinkProblem.FORGED)
    found = session.execute(_LINK_WITH_OWNERS, {"hash": token_hash(token)}).first()
    if found is None:
        return Resolution(None, LinkProblem.UNKNOWN)
    link, debtor, creditor = found
    if link.revoked_at is not None:
        return Resolution(None, LinkProblem.REVOKED)
    if _aware(link.expires_at) <= (now or utcnow()):
        return Resolution(None, LinkProblem.EXPIRED)
    return Resolution(link, None, debtor, creditor)


def needs_recording(link: PortalLink, now: dt.datetime | None = None) -> bool:
    """Whether opening `link` now starts a visit, to be written (`record_opening`):
    never opened, or last recorded 30 minutes ago or more. A view that does not start
    one writes nothing."""
    if link.last_opened_at is None:
        return True
    return (now or utcnow()) - _aware(link.last_opened_at) >= SAME_VISIT


def record_opening(session: Session, link_id: int, now: dt.datetime | None = None) -> bool:
    """Record a visit of the page: count it on the link and log it (`portal.opened`),
    unless the link's last recorded opening is under 30 minutes old (the same visit:
    nothing is written; two first views at once write one). True when recorded."""
    return link_id in record_openings(session, {link_id: now or utcnow()})


def record_openings(session: Session, openings: Mapping[int, dt.datetime]) -> set[int]:
    """`record_opening` for several links at once (link id → the moment it was
    opened), in one transaction: one read of the links, one update, one append to the
    log. The links whose opening was recorded."""
    if not openings:
        return set()
    # Locked in the order of their ids, so that two writers never wait on each other.
    links = session.scalars(select(PortalLink).where(PortalLink.id.in_(sorted(openings)))
                            .order_by(PortalLink.id).with_for_update()).all()
    starting = [link for link in links if needs_recording(link, openings[link.id])]
    if not starting:
        return set()
    table = cast("Table", PortalLink.__table__)  # a statement per row, run as one batch
    session.execute(
        update(table).where(table.c.id == bindparam("link"))
        .values(opened_count=table.c.opened_count + 1,
                last_opened_at=bindparam("moment"), first_opened_at=bindparam("first")),
        [{"link": link.id, "moment": openings[link.id],
          "first": link.first_opened_at or openings[link.id]} for link in starting])
    creditors = dict(session.execute(
        select(Debtor.id, Debtor.creditor_id)
        .where(Debtor.id.in_({link.debtor_id for link in starting}))).all())
    record_many(session, [
        Entry(actor="debtor", kind=OPENED_EVENT, subject_type="portal_link",
              subject_id=link.id, data={"action": link.action_id},
              creditor_id=creditors.get(link.debtor_id), debtor_id=link.debtor_id)
        for link in starting], at=max(openings[link.id] for link in starting))
    return {link.id for link in starting}


def find_link(session: Session, secret: bytes | None, given: str) -> PortalLink | None:
    """The link an operator names: its number, its token or the whole address."""
    text = given.strip().rstrip("/")
    if text.isdigit():
        return session.get(PortalLink, int(text))
    token = text.rsplit("/", 1)[-1]
    if secret is not None and not is_genuine(secret, token):
        return None
    return session.scalars(select(PortalLink).where(
        PortalLink.token_hash == token_hash(token))).first()


def revoke(session: Session, links: list[PortalLink], *, actor: str,
           now: dt.datetime | None = None) -> int:
    """Revoke `links` (those not revoked yet), one audit event each; how many."""
    moment = now or utcnow()
    done = 0
    for link in links:
        if link.revoked_at is not None:
            continue
        link.revoked_at = moment
        link.revoked_by = actor
        debtor = session.get(Debtor, link.debtor_id)
        record(session, actor=actor, kind=REVOKED_EVENT, subject_type="portal_link",
               subject_id=link.id, data={"action": link.action_id},
               creditor_id=debtor.creditor_id if debtor else None,
               debtor_id=link.debtor_id, at=moment)
        done += 1
    session.flush()
    return done


def debtor_links(session: Session, debtor_id: int) -> list[PortalLink]:
    return list(session.scalars(select(PortalLink).where(
        PortalLink.debtor_id == debtor_id).order_by(PortalLink.id)))
