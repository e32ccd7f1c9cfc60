"""The record of each file dropped in an intake folder (`IntakeFile`), and the state of
the e-mail that tells a creditor its file was refused.

A refused file's record keeps, in its `error` column, a JSON document: the problems
found (one sentence per row and field, as `relance import` prints them) and the notice's
state. The notice moves `pending` → `sending` → `sent` (or `written` to the outbox when
no SMTP server is configured); a server's temporary refusal puts it back to `pending`, a
permanent one makes it `failed`. A notice found `sending` at the start of a pass was cut
short by a crash while it was being handed to the server: it may have left, so it is
marked `uncertain` and never sent again by itself (the rule the dispatch keeps for
debtors' e-mails). The refusal stays visible in `relance intake list` and the file in the
creditor's `refused/` folder whatever happens to the e-mail.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from relance.engine.roles import Actor
from relance.engine.scope import creditor_ids
from relance.store.db import Store
from relance.store.models import Creditor, IntakeFile

IMPORTED = "imported"  # not for people: the status stored in intake_file.status
REFUSED = "refused"  # not for people: the status stored in intake_file.status

PENDING = "pending"  # not for people: a notice state stored in the JSON
SENDING = "sending"  # not for people: a notice state stored in the JSON
SENT = "sent"  # not for people: a notice state stored in the JSON
WRITTEN = "written"  # not for people: a notice state stored in the JSON
FAILED = "failed"  # not for people: a notice state stored in the JSON
UNCERTAIN = "uncertain"  # not for people: a notice state stored in the JSON
NOTICE_STATES = (PENDING, SENDING, SENT, WRITTEN, FAILED, UNCERTAIN)


def refusal_document(problems: Sequence[str], more: bool) -> str:
    """The `error` column of a refused file: its problems, its notice still to send."""
    return json.dumps({"problems": list(problems), "more": more,
                       "notice": {"state": PENDING, "attempts": 0}})


def read_document(error: str | None) -> dict[str, Any]:
    """The `error` column as data; a plain text (written by hand, or by an older
    relance) is one problem whose notice is not ours to send."""
    if not error:
        return {"problems": [], "more": False, "notice": {}}
    try:
        data = json.loads(error)
    except ValueError:
        return {"problems": [error], "more": False, "notice": {}}
    if not isinstance(data, dict):
        return {"problems": [error], "more": False, "notice": {}}
    data.setdefault("problems", [])
    data.setdefault("more", False)
    data.setdefault("notice", {})
    return data


def notice_state(row: IntakeFile) -> str | None:
    """The refusal e-mail's state for a refused file; None for an imported one."""
    if row.status != REFUSED:
        return None
    state = read_document(row.error)["notice"].get("state")
    return str(state) if state else None


@dataclass(frozen=True)
class Notice:
    """A refusal to tell a creditor about: what the e-mail needs."""

    intake_id: int
    creditor_code: str
    creditor_name: str
    contact_email: str | None
    language: str
    file_name: str
    received_at: dt.datetime
    sha256: str
    moved_to: str | None
    problems: tuple[str, ...]
    more: bool
    attempts: int


def _notice_rows(session: Session, states: Sequence[str]) -> list[IntakeFile]:
    # The state lives in a JSON text until it gets a column of its own: the LIKE only
    # narrows the rows (a quote inside a problem is escaped by json, so a file's text
    # cannot fake it); the state is read back from the parsed JSON below.
    patterns = [IntakeFile.error.like(f'%"state": "{state}"%') for state in states]
    rows = session.execute(
        select(IntakeFile).where(IntakeFile.status == REFUSED, or_(*patterns))
        .order_by(IntakeFile.id)).scalars().all()
    return [row for row in rows if notice_state(row) in states]


def mark_interrupted(store: Store) -> list[int]:
    """Notices left `sending` by a process that died while sending: `uncertain` now (they
    may have left; they are not sent again by themselves). Returns their files' ids."""
    with store.write_transaction() as session:
        rows = _notice_rows(session, (SENDING,))
        for row in rows:
            _set_state(row, UNCERTAIN, "interrupted while being sent")
        return [row.id for row in rows]


def notices_due(store: Store) -> list[Notice]:
    """The refusals whose e-mail has not been handed to a server yet, oldest first."""
    with store.transaction() as session:
        rows = _notice_rows(session, (PENDING,))
        creditors = {c.id: c for c in session.execute(
            select(Creditor).where(Creditor.id.in_({r.creditor_id for r in rows}))).scalars()}
        notices = []
        for row in rows:
            creditor = creditors[row.creditor_id]
            document = read_document(row.error)
            languages = [str(code) for code in (creditor.languages or []) if code]
            notices.append(Notice(
                intake_id=row.id, creditor_code=creditor.code, creditor_name=creditor.name,
                contact_email=creditor.contact_email,
                language=languages[0] if languages else "fr", file_name=row.name,
                received_at=row.received_at, sha256=row.sha256, moved_to=row.archived_as,
                problems=tuple(str(p) for p in document["problems"]),
                more=bool(document["more"]),
                attempts=int(document["notice"].get("attempts", 0))))
        return notices


def _set_state(row: IntakeFile, state: str, detail: str | None = None,
               attempted: bool = False) -> None:
    document = read_document(row.error)
    notice = dict(document["notice"])
    notice["state"] = state
    if attempted:
        notice["attempts"] = int(notice.get("attempts", 0)) + 1
    if detail is not None:
        notice["detail"] = detail
    else:
        notice.pop("detail", None)
    notice["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    document["notice"] = notice
    row.error = json.dumps(document)


def set_notice_state(store: Store, intake_id: int, state: str, detail: str | None = None,
                     *, attempted: bool = False) -> None:
    """Record the refusal e-mail's new state (its own transaction: committed before the
    next step, so that a crash leaves a state that says what was done)."""
    with store.write_transaction() as session:
        row = session.get(IntakeFile, intake_id, with_for_update=not store.is_sqlite)
        if row is not None:
            _set_state(row, state, detail, attempted)


@dataclass(frozen=True)
class IntakeLine:
    """One file of `relance intake list`."""

    id: int
    creditor: str
    name: str
    sha256: str
    size: int
    received_at: dt.datetime
    status: str
    rows: int
    archived_as: str | None
    notice: str | None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "creditor": self.creditor, "name": self.name,
                "sha256": self.sha256, "size": self.size,
                "received_at": self.received_at.isoformat(), "status": self.status,
                "rows": self.rows, "archived_as": self.archived_as, "notice": self.notice,
                "problems": self.problems}


def recent_files(store: Store, actor: Actor | None, *, limit: int = 50,
                 creditor: str | None = None) -> list[IntakeLine]:
    """The latest files received, newest first, of the creditors `actor` may see."""
    with store.transaction() as session:
        statement = (select(IntakeFile, Creditor.code)
                     .join(Creditor, Creditor.id == IntakeFile.creditor_id)
                     .order_by(IntakeFile.received_at.desc(), IntakeFile.id.desc())
                     .limit(limit))
        if creditor is not None:
            statement = statement.where(Creditor.code == creditor)
        visible = creditor_ids(session, actor)
        if visible is not None:  # a user of some creditors sees their files only
            statement = statement.where(IntakeFile.creditor_id.in_(visible))
        return [IntakeLine(id=row.id, creditor=code, name=row.name, sha256=row.sha256,
                           size=row.size, received_at=row.received_at, status=row.status,
                           rows=row.rows, archived_as=row.archived_as,
                           notice=notice_state(row),
                           problems=[str(p) for p in read_document(row.error)["problems"]]
                           if row.status == REFUSED else [])
                for row, code in session.execute(statement).all()]
