"""Claiming actions and committing their outcomes (what a dispatcher that is gone left
in flight is settled by `relance.channels.recovery`).

Each action goes through committed states around its one side effect:

    approved | retry_wait --claim--> in_flight --start--> sent | retry_wait | failed
                                           \\--crash--> approved (never started)
                                                      | sent (a letter in a written batch)
                                                      | uncertain (operator: confirm/resend)

- Claiming is one transaction: on SQLite `BEGIN IMMEDIATE` then `UPDATE ... RETURNING`
  (the write lock serialises dispatchers); on PostgreSQL `SELECT ... FOR UPDATE SKIP
  LOCKED`, so several dispatchers share the queue without waiting on each other.
- In the same transaction the queue is settled against the book as it is now (items
  paid, paused or disputed since the run are dropped); the rest are claimed `in_flight`
  with the claimant and the attempt number, committed BEFORE anything is rendered.
- `output.started_attempt` is committed just before the side effect starts: the SMTP
  or SMS exchange, or, for letters, the print batch they are written into (`mark_batched`
  also records which batch). What never started is released, never made uncertain.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from relance.channels.agency_context import FIRST_LETTER_CHANNELS, record_first_letters
from relance.channels.config import DispatchConfig
from relance.engine.mandates import cases_under_mandate
from relance.store import audit
from relance.store.db import Store
from relance.store.models import Action, ActionState, Channel, Debtor, Invoice, utcnow
from relance.store.settle import Settlement, settle_queue

DISPATCHED_CHANNELS = frozenset({"letter", "email", "sms", "notify"})
CLAIMABLE = (ActionState.APPROVED, ActionState.RETRY_WAIT)


@dataclass
class DispatchReport:
    """What one dispatch did; `to_json()` for `--json` and the scheduler's log.

    `problems` holds one entry per action this dispatch left failed, uncertain or
    waiting to retry (action, state, channel, debtor, debtor_name, reason, and
    next_attempt_at for a retry), so that a person can act on each."""

    worker: str = ""
    dry_run: bool = False
    sent: int = 0
    failed: int = 0
    retry: int = 0
    dropped: int = 0
    cancelled: int = 0
    uncertain: int = 0
    recovered_uncertain: int = 0
    recovered_sent: int = 0
    voided_approvals: int = 0
    rendered: int = 0
    paths: list[str] = field(default_factory=list)
    batch: str | None = None  # the last print batch written (`batches` has them all)
    batches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    outstanding_uncertain: int = 0
    outbox: str | None = None

    @property
    def left(self) -> dict[str, int]:
        """What this dispatch leaves for a person or a later dispatch."""
        return {"failed": self.failed, "uncertain": self.uncertain + self.recovered_uncertain,
                "retry_wait": self.retry}

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker, "dry_run": self.dry_run, "sent": self.sent,
            "failed": self.failed, "retry": self.retry, "dropped": self.dropped,
            "cancelled": self.cancelled, "uncertain": self.uncertain,
            "recovered_uncertain": self.recovered_uncertain,
            "recovered_sent": self.recovered_sent,
            "voided_approvals": self.voided_approvals, "rendered": self.rendered,
            "paths": list(self.paths), "batch": self.batch, "batches": list(self.batches),
            "errors": list(self.errors), "problems": [dict(p) for p in self.problems],
            "left": self.left, "outstanding_uncertain": self.outstanding_uncertain,
            "outbox": self.outbox,
        }


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def now() -> dt.datetime:
    return utcnow().replace(microsecond=0)


# --------------------------------------------------------------------------- outcomes


def problem(action_id: int, state: str, channel: str, debtor_ref: str, debtor_name: str,
            reason: str, next_attempt_at: str | None = None) -> dict[str, Any]:
    """One entry of `DispatchReport.problems`."""
    entry: dict[str, Any] = {"action": action_id, "state": state, "channel": channel,
                             "debtor": debtor_ref, "debtor_name": debtor_name,
                             "reason": reason}
    if next_attempt_at:
        entry["next_attempt_at"] = next_attempt_at
    return entry


def mark_started(store: Store, action_id: int, worker: str) -> bool:
    """Commit that the side effect of this attempt starts now (False: not ours any more).

    After a crash, an action in flight whose current attempt never started is released
    back to `approved` instead of being made uncertain: nothing of it left the process.
    """
    return bool(mark_batched(store, {action_id: {}}, worker))


def mark_batched(store: Store, outputs: Mapping[int, Mapping[str, Any]],
                 worker: str) -> list[int]:
    """Commit, for each action still in flight for `worker`, its output so far and that
    its attempt starts now; returns those. For letters the output names the print batch
    about to be written: recovery then finds the batch on disk (sent) or not (nothing
    went out), and the same letter can never be in two batches."""
    marked: list[int] = []
    with store.write_transaction() as session:
        actions = session.scalars(select(Action).where(Action.id.in_(list(outputs)))).all()
        for action in actions:
            if action.state != ActionState.IN_FLIGHT or action.claimed_by != worker:
                continue
            action.output = {**(action.output or {}), **outputs[action.id],
                             "started_attempt": action.attempts}
            marked.append(action.id)
    return sorted(marked)


def release_unstarted(store: Store, action_ids: Iterable[int], worker: str,
                      reason: str) -> int:
    """Put back in the queue the actions of `worker` still in flight whose attempt never
    started (a dispatch interrupted by an unexpected error): nothing of them went out."""
    released = 0
    with store.write_transaction() as session:
        actions = session.scalars(select(Action).where(Action.id.in_(list(action_ids)))).all()
        for action in actions:
            if action.state != ActionState.IN_FLIGHT or action.claimed_by != worker or (
                    (action.output or {}).get("started_attempt") == action.attempts):
                continue
            action.state = ActionState.APPROVED
            action.attempts = max(0, action.attempts - 1)
            action.claimed_by = None
            released += 1
            audit.record(session, actor=f"dispatch:{worker}", kind="action.released",
                         subject_type="action", subject_id=action.id,
                         creditor_id=action.creditor_id, debtor_id=action.debtor_id,
                         data={"reason": reason})
    return released


# --------------------------------------------------------------------------- claiming


def _recheck(session: Session, actions: Sequence[Action], today: dt.date, actor: str,
             report: DispatchReport) -> tuple[list[int], Settlement]:
    """The actions still to send, after settling them against the book as it is now
    (`relance.store.settle`: every case change already did, this catches what changed
    the book around relance): invoices paid, paused or disputed are dropped, an action
    left empty is cancelled, one whose content changed under a person's approval goes
    back to `proposed`. An approval given to other content no longer holds either.
    Returns the actions to send and the settlement, holding what it read."""
    settled = settle_queue(session, debtor_ids={a.debtor_id for a in actions},
                           action_ids=[a.id for a in actions], today=today, actor=actor,
                           cause="dispatch", keep=True)
    report.dropped += settled.dropped_items
    report.cancelled += len(settled.cancelled)
    report.voided_approvals += len(settled.back_to_proposed)
    keep = []
    for action in actions:
        if action.state not in CLAIMABLE:
            continue
        approvals = [a for a in action.approvals if a.decision == "approve"]
        if approvals and not any(a.content_hash == action.content_hash for a in approvals):
            # Approved for other content (a change since): it must be approved again.
            _void_approval(session, action, actor, report, "content changed since it was approved")
            continue
        keep.append(action.id)
    return keep, settled


def _void_approval(session: Session, action: Action, actor: str, report: DispatchReport,
                   reason: str) -> None:
    action.state = ActionState.PROPOSED
    action.approved_by = None
    action.approved_at = None
    report.voided_approvals += 1
    audit.record(session, actor=actor, kind="action.approval_voided",
                 subject_type="action", subject_id=action.id,
                 creditor_id=action.creditor_id, debtor_id=action.debtor_id,
                 data={"reason": reason})


def claimable(channels: Iterable[str], at: dt.datetime) -> Any:
    """The WHERE clause of the actions of `channels` a dispatcher may take at `at`."""
    return (
        Action.channel.in_(sorted(channels)),
        or_(Action.state == ActionState.APPROVED,
            (Action.state == ActionState.RETRY_WAIT)
            & or_(Action.next_attempt_at.is_(None), Action.next_attempt_at <= at)),
    )


@dataclass(frozen=True)
class ClaimedGroup:
    """Actions claimed in flight (`ids`, in order) with what the claim read to settle
    them: the actions (items, approvals, columns as the claim wrote them), invoices and
    debtors, detached. The dispatcher renders from them: the group is read once (twice
    cost a tenth of an e-mail), and what is rendered is what the claim checked."""

    ids: list[int]
    actions: dict[int, Action]
    invoices: dict[int, Invoice]
    debtors: dict[int, Debtor]

    def objects(self) -> list[Any]:
        """Every object the group holds, its actions first."""
        return [*(self.actions[i] for i in self.ids), *self.invoices.values(),
                *self.debtors.values()]


_NOTHING_CLAIMED = ClaimedGroup([], {}, {}, {})


def claim(store: Store, *, channels: Iterable[str], worker: str, today: dt.date,
          limit: int, report: DispatchReport, exclude: Sequence[int] = ()) -> list[int]:
    """Claim up to `limit` actions for `worker`: committed in flight before returning."""
    return claim_group(store, channels=channels, worker=worker, today=today, limit=limit,
                       report=report, exclude=exclude).ids


def claim_group(store: Store, *, channels: Iterable[str], worker: str, today: dt.date,
                limit: int, report: DispatchReport, exclude: Sequence[int] = ()
                ) -> ClaimedGroup:
    """`claim`, returning the claimed group with what the claim read of it."""
    actor = f"dispatch:{worker}"
    at = now()
    channels = list(channels)
    with store.write_transaction() as session:
        query = (select(Action.id).where(*claimable(channels, at))
                 .order_by(Action.id).limit(limit))
        if exclude:
            query = query.where(Action.id.not_in(list(exclude)))
        if not store.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return _NOTHING_CLAIMED
        # Their rows only: `settle_queue` loads them again with their items and
        # approvals (it selects them itself, under lock), into these same objects; loading
        # the collections here too read them twice. Held here, as the session keeps only
        # weak references.
        actions = session.scalars(select(Action).where(Action.id.in_(ids))).all()
        keep, settled = _recheck(session, actions, today, actor, report)
        session.flush()
        if not keep:
            return _NOTHING_CLAIMED
        # The state condition repeats the claim test: on SQLite it is what makes two
        # dispatchers unable to take the same row; on PostgreSQL the row lock already did.
        claimed = list(session.scalars(
            update(Action).where(Action.id.in_(keep), Action.state.in_(CLAIMABLE))
            .values(state=ActionState.IN_FLIGHT, claimed_by=worker, claimed_at=at,
                    attempts=Action.attempts + 1, updated_at=at)
            .returning(Action.id)
            .execution_options(synchronize_session=False)
        ))
        taken = set(claimed)
        audit.record_many(session, [
            audit.Entry(actor, "action.in_flight", "action", action.id,
                        {"attempt": action.attempts + 1}, action.creditor_id,
                        action.debtor_id)
            for action in actions if action.id in taken])
        held: dict[int, Action] = {}
        for action in actions:
            if action.id in taken:
                # What the UPDATE wrote, as if read back: the objects outlive the claim.
                for name, value in (("state", ActionState.IN_FLIGHT), ("claimed_by", worker),
                                    ("claimed_at", at), ("attempts", action.attempts + 1),
                                    ("updated_at", at)):
                    set_committed_value(action, name, value)
                held[action.id] = action
    return ClaimedGroup(sorted(claimed), held, settled.invoices, settled.debtors)


@dataclass(frozen=True)
class Outcome:
    """The outcome of one send, for `finish_many` (see `finish` for the words)."""

    action_id: int
    outcome: str
    detail: str = ""
    output: Mapping[str, Any] | None = None


_DEFAULT_CONFIG = DispatchConfig(60, 6 * 3600, 8, 900, 8, 1, 50)


def finish(store: Store, action_id: int, *, worker: str, outcome: str, detail: str = "",
           output: dict[str, Any] | None = None, config: DispatchConfig | None = None) -> str:
    """Commit the outcome of a send for an action this worker holds in flight.

    `outcome`: 'sent', 'retry' (temporary), 'failed' (permanent, never retried: a 5xx,
    a bad address, a template that does not render), 'uncertain', or 'release' (not
    started: back to the queue). Returns the state written ('sent', 'retry_wait',
    'failed', 'uncertain', 'approved'), or '' when the action was no longer ours.
    """
    states, _marked = finish_many(store, [Outcome(action_id, outcome, detail, output)],
                                  worker=worker, config=config)
    return states.get(action_id, "")


def finish_many(store: Store, outcomes: Sequence[Outcome], *, worker: str,
                config: DispatchConfig | None = None,
                start: Sequence[int] = ()) -> tuple[dict[int, str], list[int]]:
    """Commit, in ONE transaction, the outcomes of sends this worker held in flight and
    that the side effects of the actions `start` begin now (`mark_batched`).

    Returns the state written per action of `outcomes` ('' when it was no longer ours)
    and the actions of `start` marked (still in flight for this worker). Batching them
    keeps each guarantee: an outcome is committed after its send, a start before it."""
    cfg = config or _DEFAULT_CONFIG
    at = now()
    states: dict[int, str] = {}
    marked: list[int] = []
    ids = sorted({o.action_id for o in outcomes} | set(start))
    if not ids:
        return states, marked
    with store.write_transaction() as session:
        held = {row.id: _Held(*row) for row in session.execute(
            select(*_HELD_COLUMNS).where(Action.id.in_(ids)))}
        events: list[audit.Entry] = []
        sent: list[tuple[_Held, audit.Entry]] = []
        for item in outcomes:
            action = held.get(item.action_id)
            if action is None or not action.held_by(worker):
                states[item.action_id] = ""
                continue
            event = _settle(action, item, worker, cfg, at)
            state = states[item.action_id] = str(action.state)
            events.append(event)
            if state == ActionState.SENT:
                sent.append((action, event))
        for action_id in start:
            action = held.get(action_id)
            if action is None or not action.held_by(worker):
                continue
            action.write(output={**(action.output or {}), "started_attempt": action.attempts})
            marked.append(action_id)
        _write_held(session, [action for action in held.values() if action.changed])
        # The firm's first letter on a case under mandate: every later message of the
        # case recalls its reference and date (CPCE R124-4).
        firsts = _first_letters(session, [action for action, _e in sent], at.date())
        for action, event in sent:
            if action.id in firsts:
                assert event.data is not None
                event.data["first_letter_of_case"] = True
        # The chained events of the outcomes, in their order: one read of the log's
        # head and one insert for the whole chunk.
        audit.record_many(session, events, at=at)
    return states, sorted(marked)


# What `finish_many` reads of an action, as a row rather than an ORM object: loading
# whole actions and flushing them one by one was, by profile, about half of what
# committing a chunk of e-mails cost; each holds one or two changed columns.
_HELD_COLUMNS = (Action.id, Action.state, Action.claimed_by, Action.attempts,
                 Action.output, Action.creditor_id, Action.debtor_id, Action.channel)


@dataclass
class _Held:
    """An action held in flight as `finish_many` read it, and the columns it changes."""

    id: int
    state: ActionState
    claimed_by: str | None
    attempts: int
    output: dict[str, Any] | None
    creditor_id: int
    debtor_id: int
    channel: Channel
    changed: dict[str, Any] = field(default_factory=dict)

    def held_by(self, worker: str) -> bool:
        return self.state == ActionState.IN_FLIGHT and self.claimed_by == worker

    def write(self, **values: Any) -> None:
        """Change columns: read back as changed by what follows, written by
        `_write_held`."""
        for name, value in values.items():
            if name in _HELD_FIELDS:
                setattr(self, name, value)
            self.changed[name] = value


_HELD_FIELDS = frozenset({"state", "claimed_by", "attempts", "output"})


def _write_held(session: Session, actions: Sequence[_Held]) -> None:
    """One UPDATE per set of changed columns, for all the actions that share it; the
    row's `updated_at` is stamped as the ORM stamps it (the column's own `onupdate`)."""
    table = Action.__table__
    assert isinstance(table, Table)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for action in actions:
        by_columns.setdefault(tuple(sorted(action.changed)), []).append(
            {"held_id": action.id, **action.changed})
    for rows in by_columns.values():
        session.execute(table.update().where(table.c.id == bindparam("held_id")), rows)


def _first_letters(session: Session, sent: Sequence[_Held], sent_on: dt.date) -> set[int]:
    """`record_first_letters` for actions just sent: asked only of the debtors with a
    case under mandate (none outside a firm's workspace), whose actions are then read
    whole, as it needs them."""
    candidates = [action for action in sent if action.channel in FIRST_LETTER_CHANNELS]
    if not candidates or not cases_under_mandate(
            session, (action.debtor_id for action in candidates)):
        return set()
    found = [session.get(Action, action.id) for action in candidates]
    return record_first_letters(session, [a for a in found if a is not None], sent_on)


def _settle(action: _Held, item: Outcome, worker: str, cfg: DispatchConfig,
            at: dt.datetime) -> audit.Entry:
    """Write one outcome on an action held in flight by `worker`; returns its event."""
    outcome, detail, output = item.outcome, item.detail, dict(item.output or {})
    kind = f"action.{outcome}"
    data: dict[str, Any] = {"attempt": action.attempts}
    if outcome == "sent":
        action.write(state=ActionState.SENT, sent_at=at,
                     output={**(action.output or {}), **output}, last_error=None)
        data.update({k: v for k, v in output.items() if k != "refused"})
    elif outcome == "release":
        action.write(state=ActionState.APPROVED, attempts=max(0, action.attempts - 1),
                     claimed_by=None)
        kind = "action.released"
    elif outcome == "retry" and action.attempts < cfg.max_attempts:
        delay = min(cfg.retry_base_seconds * (2 ** max(action.attempts - 1, 0)),
                    cfg.retry_max_seconds)
        next_attempt_at = at + dt.timedelta(seconds=delay)
        action.write(state=ActionState.RETRY_WAIT, next_attempt_at=next_attempt_at,
                     last_error=detail)
        data.update({"error": detail, "next_attempt_at": next_attempt_at.isoformat()})
        kind = "action.retry_wait"
    elif outcome == "uncertain":
        action.write(state=ActionState.UNCERTAIN, last_error=detail)
        data["error"] = detail
    else:
        if outcome == "retry":
            detail = f"gave up after {action.attempts} attempts: {detail}"
        action.write(state=ActionState.FAILED, last_error=detail)
        data["error"] = detail
        kind = "action.failed"
    if output and outcome != "sent":
        action.write(output={**(action.output or {}), **output})
    return audit.Entry(f"dispatch:{worker}", kind, "action", action.id, data,
                       action.creditor_id, action.debtor_id)


def next_attempt(store: Store, action_id: int) -> str | None:
    """When an action waiting to retry will be tried again (ISO, UTC), for the report."""
    with store.transaction() as session:
        at = session.scalar(select(Action.next_attempt_at).where(Action.id == action_id))
        return at.isoformat() if at else None


__all__ = [
    "CLAIMABLE",
    "DISPATCHED_CHANNELS",
    "ClaimedGroup",
    "DispatchReport",
    "Outcome",
    "claim",
    "claim_group",
    "claimable",
    "default_worker_id",
    "finish",
    "finish_many",
    "mark_batched",
    "mark_started",
    "release_unstarted",
]
