"""Contacts made outside the queue: a sales rep (or anyone but an auditor) who says on
the portal that they called the debtor.

The call is kept as a note of the case, so the desk reads it among the notes and an
undo retracts it like any note; its event is `note.added` marked `contact = "call"`,
which is how the portal tells a logged call from a plain note.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from relance.engine.case_locking import audit_debtor, locked_debtor
from relance.engine.roles import Actor, require_note
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.models import Note

CALL = "call"
# A summary longer than this is surely a paste gone wrong, not what was said.
SUMMARY_MAX = 4000


def log_call(session: Session, actor: Actor, debtor_id: int, summary: str,
             today: dt.date) -> Note:
    """Record that `actor` called the debtor on `today`, with what was said: a note and
    its event, in the caller's transaction. The debtor is locked through the actor's
    scope, so a sales rep reaches only their own debtors."""
    require_note(actor, _("log a call"))
    text = summary.strip()
    if not text:
        raise UsageError(_("say what was said on the call"))
    if len(text) > SUMMARY_MAX:
        raise UsageError(_("a call summary is at most {count} characters").format(
            count=SUMMARY_MAX))
    debtor = locked_debtor(session, debtor_id, actor)
    note = Note(creditor_id=debtor.creditor_id, debtor_id=debtor.id, author=actor.name,
                body=text)
    session.add(note)
    session.flush()
    audit_debtor(session, actor, debtor, "note.added",
                 {"note_id": note.id, "body": text, "contact": CALL,
                  "called_on": today.isoformat()})
    return note
