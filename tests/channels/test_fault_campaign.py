"""Kill campaign: dispatchers killed with SIGKILL at random moments and restarted, then a
pure checker over the recorded history: 0 duplicates, 0 lost."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from relance.channels.mail import message_id
from relance.store.db import Store, open_store
from relance.store.models import Action
from tests.channels.factory import TODAY, add_action, add_creditor, add_debtor, add_invoice
from tests.channels.smtp_server import LoopbackSmtp, Recorder

ROOT = Path(__file__).resolve().parents[2]
SETTLED = frozenset({"sent", "uncertain"})


@dataclass(frozen=True)
class Verdict:
    actions: int
    duplicates: int
    lost: int
    uncertain: int
    uncertain_delivered: int

    def line(self, kills: int) -> str:
        return (f"{kills} kills, {self.actions} actions: {self.duplicates} duplicates, "
                f"{self.lost} lost, {self.uncertain} uncertain "
                f"({self.uncertain_delivered} of them delivered), all shown")


def check_history(final_states: Mapping[int, str], message_ids: Mapping[int, str],
                  received: Counter[str]) -> Verdict:
    """Pure: from the actions' final states, the Message-ID each one carries and what the
    server received, count duplicates (an ID received twice), lost actions (not settled,
    or `sent` without the server having it) and uncertain ones."""
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    lost = 0
    uncertain = delivered = 0
    for action_id, state in final_states.items():
        got = received.get(message_ids[action_id], 0)
        if state not in SETTLED or (state == "sent" and got == 0):
            lost += 1
        if state == "uncertain":
            uncertain += 1
            delivered += got > 0
    return Verdict(len(final_states), duplicates, lost, uncertain, delivered)


def test_checker_finds_duplicates_and_losses() -> None:
    ids = {1: "<a>", 2: "<b>", 3: "<c>", 4: "<d>"}
    verdict = check_history({1: "sent", 2: "sent", 3: "in_flight", 4: "uncertain"}, ids,
                            Counter({"<a>": 2, "<d>": 1}))
    assert (verdict.duplicates, verdict.lost, verdict.uncertain) == (1, 2, 1)
    assert verdict.uncertain_delivered == 1


def _book(store: Store, n: int) -> dict[int, str]:
    keys: dict[int, str] = {}
    with store.transaction() as s:
        creditor = add_creditor(s)
        for k in range(n):
            debtor = add_debtor(s, creditor, f"K-{k:05d}")
            inv = add_invoice(s, debtor, f"FK-{k:05d}", 10_000 + k, TODAY - dt.timedelta(days=9))
            action = add_action(s, debtor, [inv], channel="email", template="rappel")
            keys[action.id] = action.idempotency_key
    return {i: message_id(key, "acme-distribution.fr") for i, key in keys.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "actions", "kills"),
                         [("sqlite", 1000, 20), ("postgresql", 200, 5)])
def test_sigkill_campaign_never_duplicates_never_loses(
        tmp_path: Path, request: pytest.FixtureRequest, backend: str, actions: int,
        kills: int) -> None:
    from tests.channels.factory import make_workspace

    workspace = make_workspace(tmp_path / "ws")
    schema = ""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ws' / 'relance.sqlite'}"
    else:
        from tests.conftest import PG_URL

        schemas = request.getfixturevalue("pg_schemas")
        schema = schemas.create()
        request.addfinalizer(lambda: schemas.drop(schema))
        url = PG_URL
    store = open_store(url, schema=schema or None)
    expected_ids = _book(store, actions)
    rng = random.Random(20261122)
    recorder = Recorder()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done_early = 0
    with LoopbackSmtp(recorder) as server:
        command = [sys.executable, "-m", "tests.channels.fault_worker", url,
                   str(workspace.root), str(server.port), schema]
        for _ in range(kills):
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.6))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            else:
                done_early += 1
            proc.wait()
            proc.stdout.close()
            assert proc.stderr is not None
            proc.stderr.close()
        final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300, check=False)
        assert final.returncode == 0, final.stderr
    with store.transaction() as s:
        states = {a.id: str(a.state) for a in s.scalars(select(Action))}
    store.dispose()
    verdict = check_history(states, expected_ids, recorder.message_ids())
    print(verdict.line(kills - done_early))
    assert verdict.duplicates == 0
    assert verdict.lost == 0
    assert verdict.actions == actions
    assert done_early < kills // 2, "the kills must land while work is in progress"
    assert sum(recorder.message_ids().values()) + (
        verdict.uncertain - verdict.uncertain_delivered) == actions
