"""A run of a date whose last run saw the same book, rules and settings reuses it.

A second run of day D on an unchanged book decides nothing new: every invoice a policy
acted on is at a level acted on D, and no other invoice's facts moved. Evaluating again
to find that out costs a whole run (the payer profiles, every policy's query); reading
that nothing changed costs a few indexed reads. So each run records, in its summary
(`reuse`), what its decisions depended on:

- the key: the rule set's content hash, the rules folder's state in git (what the report
  names), the settings that shape the queue (`[run] auto_approve`, `[payer]`) and the
  evaluator;
- the book's fingerprint, read with indexed aggregates only:
  - the head of the event log (its last id and hash). Every change relance makes to the
    book or the queue appends its event in the change's own transaction
    (docs/architecture.md): an import, a payment or its reversal, a dispute, a pause, a
    promise, a plan, an approval or a rejection, a dispatch's outcome, a level reset, a
    run. A new head is a change;
  - the largest id of each table a run reads (the row count of the two without an id):
    rows added or deleted there, even outside relance, are a change.

`reuse_last_run`, called by `engine.run.run_day` before anything else, finds the last
finished run of D; when its key is the key of this run and the book's fingerprint is
the one it recorded, the run is not evaluated again: a `Run` row and a `run.done` event
record that it reused that run (so the log says who ran the day, and when), and its
report queues nothing, as an evaluated second run's would, with `reused_from` naming the
run it reused. That new event moves the head: the new row records the fingerprint with
it, so a third run reuses too.

What is not seen: a row edited in place by hand in the database, outside relance (no
event, no new id). `run_day(..., reuse=False)` evaluates whatever the fingerprint says.

A run records its fingerprint only when it knows its decisions saw that book: the book's
part is read inside its transaction before it decides (PostgreSQL may let others commit
meanwhile: read before, it can only be older than what the run saw, and an older
fingerprint never matches again), and the head is recorded only when every event after
the head read then is the run's own (on SQLite the run holds the write lock; on
PostgreSQL an event of someone else's in between leaves the run unreusable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from relance.engine.versioning import FolderState, folder_state, ruleset_hash
from relance.kernel.i18n import _
from relance.kernel.settings import PayerSettings
from relance.store import audit
from relance.store.audit import lock_event_log
from relance.store.models import Base, Event, RuleSet, Run, utcnow

if TYPE_CHECKING:
    from relance.engine.run import RunReport

# The tables a run reads and does not write: by their largest id, or their row count.
BOOK_BY_ID = ("creditor", "debtor", "invoice", "promise", "payment_plan", "instalment",
              "payment", "payment_allocation")
BOOK_BY_COUNT = ("debtor_tag", "payment_plan_invoice")
# The queue's tables, which the run writes: read after its writes.
QUEUE_BY_ID = ("action", "action_item")
QUEUE_BY_COUNT = ("invoice_level",)
SUMMARY_KEY = "reuse"


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def run_key(rules: Any, folder: FolderState, *, auto_approve: bool, payer: PayerSettings,
            evaluator: str) -> dict[str, Any]:
    """What a run's decisions depend on besides the book and the date, as JSON."""
    return {"ruleset": ruleset_hash(getattr(rules, "files", {})),
            "rules": [folder.state, folder.commit, folder.diff_hash],
            "auto_approve": auto_approve,
            "payer": {name: str(value) for name, value in
                      sorted(dataclasses.asdict(payer).items())},
            "evaluator": evaluator}


def _aggregates(conn: Connection, by_id: tuple[str, ...], by_count: tuple[str, ...]
                ) -> dict[str, int]:
    """Each table's largest id (or row count), in one statement."""
    columns = [select(func.coalesce(func.max(_table(name).c.id), 0)).scalar_subquery()
               .label(name) for name in by_id]
    columns += [select(func.count()).select_from(_table(name)).scalar_subquery()
                .label(name) for name in by_count]
    row = conn.execute(select(*columns)).one()
    return {name: int(value) for name, value in row._mapping.items()}


def _head(conn: Connection) -> list[Any]:
    """The event log's last entry, [id, hash] ([0, None] while it is empty)."""
    found = conn.execute(select(Event.id, Event.hash).order_by(Event.id.desc()).limit(1)
                         ).first()
    return [0, None] if found is None else [int(found.id), str(found.hash)]


def book_tables(conn: Connection) -> dict[str, int]:
    """The largest id (or row count) of each table of the book a run reads."""
    return _aggregates(conn, BOOK_BY_ID, BOOK_BY_COUNT)


def queue_tables(conn: Connection) -> dict[str, int]:
    """The largest id (or row count) of each table of the queue a run writes."""
    return _aggregates(conn, QUEUE_BY_ID, QUEUE_BY_COUNT)


def book_state(conn: Connection) -> dict[str, Any]:
    """The book's part of the fingerprint, and the head it was read with."""
    return {"tables": book_tables(conn), "head": _head(conn)}


def fingerprint(conn: Connection) -> dict[str, Any]:
    """The whole fingerprint as it stands (see module doc)."""
    return {**book_state(conn), "queue": queue_tables(conn)}


def settled_fingerprint(conn: Connection, before: dict[str, Any], own_events: int
                        ) -> dict[str, Any] | None:
    """The fingerprint a run leaves, read after its writes (it holds the event log's
    lock since its first event): `before`'s book with the run's head and queue, or None
    when an event of someone else's came after `before` was read."""
    since = int(before["head"][0])
    after = conn.execute(select(func.count()).select_from(Event)
                         .where(Event.id > since)).scalar_one()
    if after != own_events:
        return None
    return {"tables": before["tables"], "head": _head(conn),
            "queue": queue_tables(conn)}


class LastRun(NamedTuple):
    """The last finished run of a date, with what it remembered for later runs."""

    id: int
    ruleset_id: int
    key: Any
    book: dict[str, Any]


def last_remembered(conn: Connection, on: dt.date) -> LastRun | None:
    """The last finished run of `on`, when it recorded the book it decided on (a run
    that could not vouch for its book recorded none)."""
    last = conn.execute(
        select(Run.id, Run.summary, Run.ruleset_id)
        .where(Run.run_date == on, Run.status == "done")
        .order_by(Run.id.desc()).limit(1)).first()
    stored = (last.summary or {}).get(SUMMARY_KEY) if last is not None else None
    if last is None or not isinstance(stored, dict) or not isinstance(stored.get("book"),
                                                                      dict):
        return None
    return LastRun(int(last.id), int(last.ruleset_id), stored.get("key"), stored["book"])


def remembered(key: dict[str, Any], found: dict[str, Any] | None) -> dict[str, Any]:
    """What a run's summary keeps for a later run of its date (see module doc)."""
    return {"key": key, "book": found}


def reuse_last_run(session: Session, rules: Any, on: dt.date, *, actor: str,
                   auto_approve: bool, payer: PayerSettings, evaluator: str,
                   rules_dir: Path | None) -> RunReport | None:
    """In the caller's transaction, which holds the run lock of `on`: when nothing
    changed since the last run of `on` (see module doc), record that this run reuses it
    and return its report; else None, having written nothing."""
    from relance.engine.run import RunReport

    conn = session.connection()
    last = last_remembered(conn, on)
    if last is None:
        return None
    folder = folder_state(rules_dir)
    key = run_key(rules, folder, auto_approve=auto_approve, payer=payer,
                  evaluator=evaluator)
    if last.key != key:
        return None
    if conn.dialect.name == "postgresql":
        # Held until commit, as every append takes it: the head cannot move between
        # the comparison and this run's own event.
        lock_event_log(conn)
    if fingerprint(conn) != last.book:
        return None
    content_hash = session.execute(select(RuleSet.content_hash)
                                   .where(RuleSet.id == last.ruleset_id)).scalar_one()
    run = Run(run_date=on, ruleset_id=last.ruleset_id, started_by=actor, status="done",
              started_at=utcnow(), finished_at=utcnow(), rules_state=folder.state,
              rules_git_commit=folder.commit, rules_diff_hash=folder.diff_hash)
    session.add(run)
    session.flush()
    report = RunReport(
        run_id=run.id, on=on, dry_run=False, ruleset_hash=content_hash,
        git_commit=folder.clean_commit, rules_state=folder.state,
        rules_diff_hash=folder.diff_hash, actions_created=0, items_created=0,
        actions_proposed=0, actions_approved=0, by_rule=(), by_channel=(),
        reused_from=int(last.id))
    audit.record(session, actor=actor, kind="run.done", subject_type="run", subject_id=run.id,
                 data={"date": on.isoformat(), "ruleset": content_hash,
                       "git_commit": folder.commit, "rules_state": folder.state,
                       "rules_diff_hash": folder.diff_hash, "actions": 0, "items": 0,
                       "reused": int(last.id)})
    book = {**last.book, "head": _head(conn)}
    run.summary = {**report.to_json(), SUMMARY_KEY: remembered(key, book)}
    session.flush()
    return report


def reuse_note(report: RunReport) -> str | None:
    """The sentence telling a person that a run reused an earlier one, if it did."""
    if report.reused_from is None:
        return None
    return _("nothing changed since run {id} of this day: its decisions stand, nothing "
             "was evaluated again").format(id=report.reused_from)
