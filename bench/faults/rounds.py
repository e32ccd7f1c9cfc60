"""What every scenario shares: a round's workspace, servers and book, finishing the
queue with a clean dispatch, and judging each channel."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select

from bench.faults import evidence
from bench.faults.book import (
    CHANNELS,
    Sizes,
    add_book,
    final_states,
    letters_in_batches,
    listed_uncertain,
)
from bench.faults.checker import Verdict, judge
from bench.faults.databases import Database, fresh_database
from bench.faults.gateway import LoopbackGateway
from bench.faults.launcher import Launcher
from relance.channels.claims import CLAIMABLE
from relance.kernel.workspace import Workspace
from relance.store.models import Action, ActionState
from tests.channels.factory import make_workspace
from tests.channels.smtp_server import LoopbackSmtp, Recorder


class MessageCounter(Protocol):
    def message_ids(self) -> Counter[str]: ...


def workspace_config(smtp_port: int, sms_url: str, smtp_timeout: float = 10) -> dict[str, Any]:
    return {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                 "max_connections": 4, "timeout": smtp_timeout},
        "sms": {"url": sms_url, "id_field": "message_id", "timeout": 10},
        # Retries at once, and many of them: the campaign finishes its queue in one go.
        "dispatch": {"retry_base_seconds": 0, "batch_size": 10, "max_attempts": 50,
                     "letter_processes": 1},
    }


@dataclass
class Round:
    database: Database
    workspace: Workspace
    tokens: dict[str, dict[int, str]]
    smtp: MessageCounter
    gateway: LoopbackGateway
    launcher: Launcher
    number: int = 0

    def work_left(self) -> int:
        """Actions a dispatcher still has to take or settle."""
        with self.database.store.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(Action).where(
                Action.state.in_([*CLAIMABLE, ActionState.IN_FLIGHT]))) or 0)

    def finish_queue(self, attempts: int = 5) -> None:
        """Clean dispatches until nothing is left to send (a database that has just
        restarted may refuse the first one)."""
        for _ in range(attempts):
            pid = self.launcher.start()
            status = self.launcher.wait(pid)
            if status == 0 and not self.work_left():
                return
            time.sleep(1)
        raise RuntimeError(f"the queue did not drain; see {self.workspace.root / 'children.log'}")

    def verdicts(self) -> dict[str, Verdict]:
        store = self.database.store
        states = final_states(store)
        listed = listed_uncertain(store)
        received = {"email": self.smtp.message_ids(), "sms": self.gateway.counts(),
                    "letter": letters_in_batches(self.workspace.outbox_dir)}
        verdicts = {channel: judge({a: states[a] for a in self.tokens[channel]},
                                   self.tokens[channel], received[channel], listed)
                    for channel in CHANNELS}
        for channel, verdict in verdicts.items():
            if not verdict.clean:
                found = evidence.suspects(self.tokens[channel], states, received[channel])
                path = evidence.keep(store, self.number, channel, found, self.tokens[channel],
                                     received[channel])
                print(f"round {self.number}, {channel}: a fault; evidence in {path}",
                      file=sys.stderr, flush=True)
        return verdicts


@contextmanager
def open_round(kind: str, folder: Path, sizes: Sizes, number: int,
               smtp_handler: Any = None, smtp_timeout: float = 10) -> Iterator[Round]:
    """A fresh database, loopback servers, a workspace, the book, and a launcher."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = smtp_handler if smtp_handler is not None else Recorder()
    with fresh_database(kind, folder) as database, LoopbackSmtp(handler) as smtp, \
            LoopbackGateway() as gateway:
        config = workspace_config(smtp.port, gateway.url, smtp_timeout)
        workspace = make_workspace(folder / "ws", config)
        tokens = add_book(database.store, sizes, number)
        with Launcher(database.url, database.schema, workspace.root, config) as launcher:
            yield Round(database, workspace, tokens, handler, gateway, launcher, number)
