"""What made e-mail dispatch faster keeps its word: the events chained many at a time
verify like those chained one by one, the context read for a whole group says what each
action's own queries say, the statements sent do not grow with each e-mail, helper
processes share the queue without sending anything twice, and one schema's event log
does not wait on another's."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import selectinload

from relance.channels import processes
from relance.channels.config import dispatch_config
from relance.channels.context import build_context
from relance.channels.dispatch import dispatch
from relance.channels.group_facts import group_facts
from relance.channels.processes import process_count
from relance.kernel.errors import ConfigError
from relance.store import audit
from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Event
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder
from tests.channels.test_mail import book
from tests.conftest import PG_URL, PostgresSchemas


def test_events_chained_many_at_a_time_verify_in_their_order(store: Store) -> None:
    with store.transaction() as s:
        audit.record(s, actor="t", kind="first", subject_type="action", subject_id=1)
        audit.record_many(s, [
            audit.Entry("t", f"many.{k}", "action", k, {"k": k, "é": "ü"}, None, None)
            for k in range(5)])
        audit.record(s, actor="t", kind="last", subject_type="action", subject_id=9)
    with store.transaction() as s:
        assert audit.verify(s) == []
        kinds = list(s.scalars(select(Event.kind).order_by(Event.id)))
        data = s.scalars(select(Event.data).where(Event.kind == "many.3")).one()
    assert kinds == ["first", *(f"many.{k}" for k in range(5)), "last"]
    assert data == {"k": 3, "é": "ü"}


def _reminders_book(store: Store) -> list[int]:
    """Three e-mails: one after a formal-notice letter on its invoice (reminded before,
    registered letter too), one whose only other action was cancelled, one alone."""
    with store.transaction() as s:
        creditor = add_creditor(s)
        ids = []
        for k, other in enumerate(("letter", "cancelled", None)):
            debtor = add_debtor(s, creditor, f"R-{k}")
            invoice = add_invoice(s, debtor, f"FR-{k}", 90_000, TODAY - dt.timedelta(days=30))
            if other is not None:
                letter = add_action(s, debtor, [invoice], channel="letter",
                                    template="mise_en_demeure", key=f"letter-{k}",
                                    state=(ActionState.SENT if other == "letter"
                                           else ActionState.CANCELLED))
                letter.created_on = TODAY - dt.timedelta(days=3)
            action = add_action(s, debtor, [invoice], channel="email",
                                template="mise_en_demeure", key=f"mail-{k}")
            ids.append(action.id)
    return ids


def test_the_context_read_for_a_group_says_what_each_action_reads_alone(
        store: Store) -> None:
    ids = _reminders_book(store)
    with store.transaction() as s:
        actions = s.scalars(select(Action).where(Action.id.in_(ids)).order_by(Action.id)
                            .options(selectinload(Action.items))).all()
        facts = group_facts(s, actions)
        alone = [build_context(s, a, today=TODAY, workspace_root=None).context
                 for a in actions]
        grouped = [build_context(s, a, today=TODAY, workspace_root=None, facts=facts).context
                   for a in actions]
    assert grouped == alone
    said = [(c["reminded_before"], c["registered_letter_too"]) for c in grouped]
    assert said == [(True, True), (False, False), (False, False)]


def _emails(store: Store, code: str, n: int) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s, code)
        for k in range(n):
            debtor = add_debtor(s, creditor, f"{code}-{k}", email=f"{code}-{k}@client.test")
            invoice = add_invoice(s, debtor, f"{code}-F{k}", 50_000 + k,
                                  TODAY - dt.timedelta(days=20))
            add_action(s, debtor, [invoice], channel="email", template="rappel")


def _statements_to_send(store: Store, workspace_root: Path, port: int) -> int:
    count = [0]

    def counted(*_args: Any) -> None:
        count[0] += 1

    workspace = make_workspace(workspace_root, {
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                 "max_connections": 2, "timeout": 10},
        "dispatch": {"batch_size": 100, "processes": 1}})
    event.listen(store.engine, "before_cursor_execute", counted)
    try:
        report = dispatch(store, workspace, today=TODAY)
    finally:
        event.remove(store.engine, "before_cursor_execute", counted)
    assert not report.errors, report.errors
    return count[0]


def test_the_statements_of_a_dispatch_do_not_grow_with_each_email(
        store: Store, tmp_path: Path) -> None:
    """Claims, contexts, outcomes and their events go by group and by chunk: 40 more
    e-mails in one group cost a few more statements, not several each."""
    recorder = Recorder()
    counts = []
    with LoopbackSmtp(recorder) as server:
        for code, n in (("SMALL", 8), ("LARGE", 48)):
            _emails(store, code, n)
            counts.append(_statements_to_send(store, tmp_path / code, server.port))
    assert len(recorder.message_ids()) == 56
    assert counts[1] - counts[0] < 40, counts


def test_a_claimed_group_is_rendered_from_what_its_claim_read(
        store: Store, tmp_path: Path) -> None:
    """The claim reads the group's actions, invoices and debtors to check them against
    the book; the e-mails are rendered from those, not read again (each table's rows
    once per group), and say what the claim found: here a balance changed around
    relance after the e-mails were queued."""
    _emails(store, "ACME", 6)
    with store.transaction() as s:
        s.execute(text("UPDATE invoice SET balance_minor = 12345 WHERE number = 'ACME-F2'"))
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found = re.match(r"\s*SELECT\b.*?\bFROM\s+(\w+)", statement, re.DOTALL)
        if found:
            reads.append(found.group(1))

    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {"smtp": server.config(),
                                                     "dispatch": {"processes": 1}})
        event.listen(store.engine, "before_cursor_execute", seen)
        try:
            report = dispatch(store, workspace, today=TODAY)
        finally:
            event.remove(store.engine, "before_cursor_execute", seen)
    assert report.sent == 6 and not report.errors, report.errors
    assert reads.count("invoice") == 1 and reads.count("debtor") == 1, reads
    texts = {to[0]: m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
             for (_sender, to), m in zip(recorder.envelopes, recorder.messages, strict=True)}
    changed = texts["ACME-2@client.test"]
    assert "123,45" in changed and "500,02" not in changed, changed
    assert "500,01" in texts["ACME-1@client.test"]


@dataclass
class SlowServer(Recorder):
    """A server taking `pause` seconds over each message: long enough a dispatch for a
    helper process to matter."""

    pause: float = 0.1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.pause)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow  # 60 e-mails through a slow server, a helper interpreter started
def test_two_processes_share_the_queue_and_send_each_email_once(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`[dispatch] processes = 2`: a helper process claims groups beside the caller (a
    slow server keeps the caller busy long enough for it to start); every e-mail
    arrives once and the report counts them all."""
    n = 60
    book(store, n, template="rappel")
    # A helper is started for 60 e-mails here, not only from a thousand.
    monkeypatch.setattr(processes, "HELPER_QUEUE_MIN", n)

    recorder = SlowServer(pause=0.1)
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=1),
            "dispatch": {"batch_size": 4, "processes": 2}})
        report = dispatch(store, workspace, today=TODAY)
    assert report.sent == n and not report.errors, report.errors
    ids = recorder.message_ids()
    assert len(ids) == n and set(ids.values()) == {1}
    with store.transaction() as s:
        senders = set(s.scalars(select(Event.actor).where(Event.kind == "action.sent")))
        states = set(s.scalars(select(Action.state)))
    assert len(senders) == 2, senders  # the caller and its helper both sent
    assert states == {ActionState.SENT}


# Run in an interpreter of its own, which runs no other thread (the test's SMTP server
# does): the dispatch there may fork its helper. Prints the report and the start methods
# asked of multiprocessing.
_DISPATCH_ALONE = """
import json, multiprocessing, sys
from pathlib import Path
asked = []
_get_context = multiprocessing.get_context
def _recording(method=None):
    asked.append(method)
    return _get_context(method)
multiprocessing.get_context = _recording
from relance.channels import processes
from relance.channels.dispatch import dispatch
from relance.store.db import open_store
from tests.channels.factory import TODAY, make_workspace
processes.HELPER_QUEUE_MIN = 1
store = open_store(sys.argv[1], schema=sys.argv[2] or None, migrate=False)
workspace = make_workspace(Path(sys.argv[3]), json.loads(sys.argv[4]))
print("before the dispatch", end=" ")  # left in the buffer: written once, by this process
report = dispatch(store, workspace, today=TODAY)
print(json.dumps({"sent": report.sent, "errors": report.errors, "asked": asked}))
"""


@pytest.mark.slow  # 40 e-mails through a slow server, in a process of their own
def test_a_dispatch_running_no_other_thread_forks_its_helper_which_sends_at_once(
        store: Store, db_url: tuple[str, str | None], tmp_path: Path) -> None:
    """A helper forked from the dispatch starts without importing anything: with a
    server slow enough to hold the caller for a second or two, a fresh interpreter
    would be ready when a good part of the queue is gone; the forked one shares it from the start.
    Each e-mail arrives once, and what the caller had printed is printed once."""
    n = 40
    book(store, n, template="rappel")

    recorder = SlowServer(pause=0.025)
    with LoopbackSmtp(recorder) as server:
        config = {"smtp": server.config(max_connections=1),
                  "dispatch": {"batch_size": 2, "processes": 2, "retry_base_seconds": 0}}
        done = subprocess.run(
            [sys.executable, "-c", _DISPATCH_ALONE, db_url[0], db_url[1] or "",
             str(tmp_path / "ws"), json.dumps(config)],
            capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("before the dispatch") == 1, done.stdout
    outcome = json.loads(done.stdout.split("before the dispatch ", 1)[1])
    assert outcome["sent"] == n and outcome["errors"] == [], outcome
    assert outcome["asked"] == ["fork"]
    ids = recorder.message_ids()
    assert len(ids) == n and set(ids.values()) == {1}
    with store.transaction() as s:
        sent_by = Counter(s.scalars(select(Event.actor).where(Event.kind == "action.sent")))
    # One e-mail at a time on each side, 25 ms each: the helper sent about half, not the
    # tail left after an interpreter's start (half a second to a second here, 20 to 40
    # e-mails' worth).
    assert len(sent_by) == 2 and min(sent_by.values()) >= n * 3 // 8, sent_by


# In an interpreter of its own: the test's process may run threads of its own (pytest's
# workers do), which would make every answer `spawn`.
_START_METHODS = """
import asyncio, json, threading
from relance.channels.processes import start_method
alone = start_method()
async def within_a_loop():
    return start_method()
in_loop = asyncio.run(within_a_loop())
release = threading.Event()
other = threading.Thread(target=release.wait)
other.start()
beside_a_thread = start_method()
release.set()
other.join()
print(json.dumps([alone, in_loop, beside_a_thread, start_method()]))
"""


def test_a_helper_is_forked_only_from_a_process_running_nothing_else() -> None:
    """A fork copies the locks other threads hold at that instant, and the event loop
    running in this one: beside either, the helper is a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _START_METHODS], capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == ["fork", "spawn", "spawn", "fork"]


def test_dispatch_processes_setting(store: Store, tmp_path: Path) -> None:
    assert dispatch_config(make_workspace(tmp_path / "a")).processes is None
    one = dispatch_config(make_workspace(tmp_path / "b", {"dispatch": {"processes": 1}}))
    assert process_count(one) == 1
    default = dispatch_config(make_workspace(tmp_path / "c"))
    # One per core, on either database.
    assert process_count(default) == os.cpu_count()
    for wrong in (0, 65, "2"):
        with pytest.raises(ConfigError, match="processes"):
            dispatch_config(make_workspace(tmp_path / f"w{wrong}",
                                           {"dispatch": {"processes": wrong}}))


def test_helpers_start_only_for_a_queue_worth_their_start(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper's interpreter costs more than sending a short queue: below
    `HELPER_QUEUE_MIN` e-mails waiting, or within one claimed group, none starts; from
    it on, one per group up to one per process."""
    monkeypatch.setattr(processes, "HELPER_QUEUE_MIN", 6)
    config = dispatch_config(make_workspace(tmp_path / "ws", {"dispatch": {"batch_size": 2}}))
    mail = {"email", "notify"}
    _emails(store, "FIVE", 5)
    assert processes.helpers_wanted(store, config, mail, 4) == 0
    _emails(store, "SIXTH", 1)
    assert processes.helpers_wanted(store, config, mail, 4) == 3
    assert processes.helpers_wanted(store, config, mail, 2) == 1
    assert processes.helpers_wanted(store, config, mail, 1) == 0
    assert processes.helpers_wanted(store, config, {"letter"}, 4) == 0
    wide = dispatch_config(make_workspace(tmp_path / "wide", {"dispatch": {"batch_size": 6}}))
    assert processes.helpers_wanted(store, wide, mail, 4) == 0


def test_one_schemas_event_log_does_not_wait_for_anothers(
        pg_schemas: PostgresSchemas) -> None:
    """Two workspaces in two schemas of one server: a transaction appending to the first
    one's log does not hold up an append to the second's."""
    names = [pg_schemas.create(), pg_schemas.create()]
    stores = [open_store(PG_URL, schema=name) for name in names]
    try:
        with stores[0].transaction() as holding:
            audit.record(holding, actor="t", kind="held", subject_type="x", subject_id=1)
            with stores[1].transaction() as other:
                other.execute(text("SET LOCAL lock_timeout = '3s'"))
                audit.record(other, actor="t", kind="free", subject_type="x", subject_id=1)
        with stores[1].transaction() as s:
            assert list(s.scalars(select(Event.kind))) == ["free"]
    finally:
        for opened, name in zip(stores, names, strict=True):
            opened.dispose()
            pg_schemas.drop(name)
