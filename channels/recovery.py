"""Recovery: what a dispatcher that is gone left in flight, settled by the next one.

An action in flight whose claimant is gone (same host and its process no longer exists,
or another host past `[dispatch] lease_seconds`) is settled by what was committed about
its attempt, never by guessing:

- its attempt never started (`output.started_attempt` is older): nothing of it left the
  process, it goes back to `approved` (`action.released`);
- a letter whose print batch was committed on it: the batch file is renamed into place
  whole after that commit, so on disk means the letter is in it (`sent`), and absent,
  when the claimant ran on this host, means no letter of it went out (`approved`);
- anything else that started may have gone out: `uncertain` (`action.uncertain`), for
  an operator to confirm or resend.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from relance.channels.claims import DispatchReport, now, problem
from relance.channels.reasons import Reason, reason
from relance.kernel.i18n import N_
from relance.store import audit
from relance.store.db import Store
from relance.store.models import Action, ActionState, Debtor


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _claimant_alive(claimed_by: str | None) -> bool | None:
    """True/False when the claimant ran on this host, None when it cannot be told."""
    if not claimed_by:
        return False
    parts = claimed_by.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname():
        return None
    try:
        pid = int(parts[1])
    except ValueError:
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not alive for our purpose.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            if handle.read().split(") ", 1)[1].startswith("Z"):
                return False
    except (OSError, IndexError):
        pass
    return True


def _abandoned_outcome(channel: str, attempts: int, output: Mapping[str, Any],
                       alive: bool | None) -> tuple[str, Reason]:
    """(state, reason) for an action in flight whose claimant is gone."""
    if output.get("started_attempt") != attempts:
        return "approved", reason(N_("claimant gone before sending it"))
    batch = output.get("batch") if channel == "letter" else None
    if batch:
        # The batch file is renamed into place whole, after its letters were marked: on
        # disk means every letter marked for it is in it; absent from the disk its
        # writer used (this machine's, when the claimant ran here), none went out.
        if Path(batch).is_file():
            return "sent", reason(
                N_("in print batch {batch}, written before the claimant stopped"), batch=batch)
        if alive is False:
            return "approved", reason(N_("claimant gone before its print batch was written"))
        return "uncertain", reason(N_("print batch {batch} is not on this machine: if the "
                                      "claimant's machine wrote it, confirm; else resend"),
                                   batch=batch)
    return "uncertain", reason(N_("may have been sent; confirm or resend"))


def recover_in_flight(store: Store, *, lease_seconds: float, actor: str,
                      report: DispatchReport | None = None) -> int:
    """Settle the actions left in flight by a dead dispatcher (same host and its process
    gone, or another host past the lease); returns how many became `uncertain`.

    Never started: back to `approved` (`action.released`). A letter whose print batch is
    on disk: `sent`. Anything else that started may have gone out: `uncertain`
    (`action.uncertain`), for an operator to confirm or resend; never resent blindly.
    """
    cutoff = _naive_utc(now() - dt.timedelta(seconds=lease_seconds))
    count = 0
    with store.write_transaction() as session:
        rows = session.execute(
            select(Action.id, Action.claimed_by, Action.claimed_at, Action.creditor_id,
                   Action.debtor_id, Action.channel, Action.attempts, Action.output,
                   Debtor.ref, Debtor.name)
            .join(Debtor, Debtor.id == Action.debtor_id)
            .where(Action.state == ActionState.IN_FLIGHT)
        ).all()
        for (action_id, claimed_by, claimed_at, creditor_id, debtor_id, channel, attempts,
             output, debtor_ref, debtor_name) in rows:
            alive = _claimant_alive(claimed_by)
            claimed = _naive_utc(claimed_at)
            stale = claimed is not None and cutoff is not None and claimed <= cutoff
            if not (alive is False or (alive is None and stale)):
                continue
            state, why = _abandoned_outcome(str(channel), attempts, output or {}, alive)
            values: dict[str, Any] = {"state": ActionState(state)}
            kind = f"action.{state}"
            # The record keeps English; the report speaks the reader's language.
            data: dict[str, Any] = {"claimed_by": claimed_by, "reason": why.english}
            told = reason(N_("in flight when {claimant} stopped: {reason}"),
                          claimant=claimed_by, reason=why)
            if state == "approved":
                values.update(claimed_by=None, attempts=max(attempts - 1, 0))
                kind = "action.released"
            elif state == "sent":
                values.update(sent_at=now(), last_error=None)
                data.update(attempt=attempts, batch=(output or {}).get("batch"))
            else:
                values["last_error"] = told.english
            # The state condition: another dispatcher recovering at the same moment
            # changes each row once.
            changed = session.execute(
                update(Action).where(Action.id == action_id,
                                     Action.state == ActionState.IN_FLIGHT)
                .values(**values).returning(Action.id)
            ).first() is not None
            if not changed:
                continue
            audit.record(session, actor=actor, kind=kind, subject_type="action",
                         subject_id=action_id, creditor_id=creditor_id, debtor_id=debtor_id,
                         data=data)
            if state == "uncertain":
                count += 1
                if report is not None:
                    report.problems.append(problem(action_id, "uncertain", str(channel),
                                                   debtor_ref, debtor_name, told.shown))
            elif state == "sent" and report is not None:
                report.recovered_sent += 1
    return count


__all__ = ["recover_in_flight"]
