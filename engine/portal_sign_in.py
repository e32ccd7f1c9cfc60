"""Signing the portal's people in: one-time links and the sessions they open.

The web portal (`relance web`) e-mails a person of the `[users]` table a link; following
it opens a session, whose token the browser keeps in a cookie. Tokens are random and
only their SHA-256 is stored, so a copy of the database signs nobody in. A link serves
once and expires after `SIGN_IN_MINUTES`; a session ends on signing out, after
`SESSION_HOURS`, or after `IDLE_MINUTES` without a page.

These functions change only the sign-in tables; who the person is and what they may see
is `engine.roles.Policy.person` and the portal's own queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relance.store.models import PortalSession, PortalSignIn

SIGN_IN_MINUTES = 15
SESSION_HOURS = 10
IDLE_MINUTES = 60
# A last-seen time is written again only when older than this: a page view reads.
SEEN_RESOLUTION = dt.timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def issue_sign_in(session: Session, user_name: str, now: dt.datetime) -> str:
    """A new one-time sign-in link's token for `user_name`, valid `SIGN_IN_MINUTES`."""
    token = _new_token()
    session.add(PortalSignIn(token_hash=token_hash(token), user_name=user_name,
                             created_at=now,
                             expires_at=now + dt.timedelta(minutes=SIGN_IN_MINUTES)))
    session.flush()
    return token


def redeem_sign_in(session: Session, token: str, now: dt.datetime) -> str | None:
    """The user a sign-in token was issued to, spending it; None when it is unknown,
    spent or expired. Spent by one conditional update, so two tabs following the same
    link cannot both sign in."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    spent = session.execute(
        update(PortalSignIn)
        .where(PortalSignIn.token_hash == digest, PortalSignIn.used_at.is_(None),
               PortalSignIn.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalars(select(PortalSignIn.user_name)
                           .where(PortalSignIn.token_hash == digest)).one()


def open_session(session: Session, user_name: str, now: dt.datetime) -> str:
    """A new session's token for `user_name` (the cookie's value)."""
    token = _new_token()
    session.add(PortalSession(token_hash=token_hash(token), user_name=user_name,
                              created_at=now, last_seen_at=now,
                              expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    session.flush()
    return token


def session_user(session: Session, token: str, now: dt.datetime) -> str | None:
    """The user of a live session, noting that it was seen; None when the token is
    unknown, ended, expired or left idle."""
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(PortalSession)
                          .where(PortalSession.token_hash == token_hash(token))).one_or_none()
    if row is None or row.ended_at is not None:
        return None
    if _aware(row.expires_at) <= now \
            or _aware(row.last_seen_at) + dt.timedelta(minutes=IDLE_MINUTES) <= now:
        return None
    if now - _aware(row.last_seen_at) >= SEEN_RESOLUTION:
        row.last_seen_at = now
        session.flush()
    return row.user_name


def end_session(session: Session, token: str, now: dt.datetime) -> None:
    """Sign out: the session's token no longer opens anything."""
    session.execute(update(PortalSession)
                    .where(PortalSession.token_hash == token_hash(token),
                           PortalSession.ended_at.is_(None))
                    .values(ended_at=now)
                    .execution_options(synchronize_session=False))


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands datetimes back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
