"""E-mails sent in batches keep every promise of docs/reliability.md: a message's start
is committed before its first byte goes out, a dispatcher stopped or broken in the
middle of a batch sends nothing twice and loses nothing, what it had not begun goes
back to the queue and what was in an exchange is left for an operator; and the
message built from prepared parts is the very message the e-mail library builds."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
import threading
from typing import Any

import pytest
from sqlalchemy import select

from relance.channels import claims, mail
from relance.channels.dispatch import dispatch
from relance.channels.in_doubt import uncertain_sends
from relance.store.db import Store, open_store
from relance.store.models import Action, Debtor
from tests.channels.factory import TODAY, make_workspace
from tests.channels.smtp_server import LoopbackSmtp, Recorder
from tests.channels.test_mail import _SPECIALS, _names, book

# A claimant of this host whose process cannot exist: the next dispatcher settles it.
DEAD = f"{socket.gethostname()}:4194305:batch"


def _states(store: Store) -> dict[int, tuple[str, Any]]:
    with store.transaction() as s:
        return {a.id: (str(a.state), dict(a.output or {}))
                for a in s.scalars(select(Action))}


class _Watching(Recorder):
    """Records, as each message's data arrives, what the database says of its action."""

    def __init__(self, url: str, schema: str | None, ids: dict[str, int]) -> None:
        super().__init__()
        self.reader = open_store(url, schema=schema)
        self.ids = ids  # recipient address -> action
        self.seen: list[tuple[str, int | None, int]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        action_id = self.ids[envelope.rcpt_tos[0]]
        with self.reader.transaction() as s:
            action = s.get(Action, action_id)
            assert action is not None
            self.seen.append((str(action.state), (action.output or {}).get("started_attempt"),
                              action.attempts))
        return await super().handle_DATA(server, session, envelope)


def _recipients(store: Store) -> dict[str, int]:
    with store.transaction() as s:
        return {str(d.email): a.id for a, d in s.execute(
            select(Action, Debtor).join(Debtor, Debtor.id == Action.debtor_id))}


def test_each_start_is_committed_before_its_message_goes_out(
        store: Store, db_url: tuple[str, str | None], tmp_path: Any) -> None:
    book(store, 30, template="rappel")
    watcher = _Watching(*db_url, _recipients(store))
    with LoopbackSmtp(watcher) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=3), "dispatch": {"batch_size": 100}})
        report = dispatch(store, workspace, today=TODAY)
    watcher.reader.dispose()
    assert report.sent == 30 and len(watcher.seen) == 30
    # Seen from another connection while the data arrived: in flight, its start committed.
    assert all(state == "in_flight" and started == attempts == 1
               for state, started, attempts in watcher.seen), watcher.seen
    assert all(state == "sent" for state, _ in _states(store).values())


def test_a_dispatch_stopped_mid_batch_releases_what_it_had_not_begun(
        store: Store, tmp_path: Any) -> None:
    book(store, 40, template="rappel")
    stop = threading.Event()

    class StopAtFirst(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            stop.set()  # as a scheduler's SIGTERM would, during the first exchange
            return await super().handle_DATA(server, session, envelope)

    recorder = StopAtFirst()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=2), "dispatch": {"batch_size": 100}})
        first = dispatch(store, workspace, today=TODAY, stop=stop)
        states = _states(store)
        assert 1 <= first.sent == len(recorder.messages) < 40
        assert {s for s, _ in states.values()} == {"sent", "approved"}
        assert first.uncertain == 0 and first.left["uncertain"] == 0
        second = dispatch(store, workspace, today=TODAY)
    assert second.sent == 40 - first.sent and second.recovered_uncertain == 0
    assert sorted(recorder.message_ids().values()) == [1] * 40


def test_a_dispatcher_lost_mid_batch_sends_nothing_twice(
        store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database goes away after some messages went out: their outcomes cannot be
    committed. The next dispatcher makes what had started uncertain (listed), sends
    what had not, and no e-mail arrives twice."""
    ids = book(store, 24, template="rappel")
    real = claims.finish_many
    calls = [0]

    def lost_after_the_first_chunk(*args: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] >= 2:  # the first call only marks the first chunk
            raise OSError("database connection lost")
        return real(*args, **kw)

    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=2), "dispatch": {"batch_size": 100}})
        from relance.channels import dispatch as dispatch_module

        monkeypatch.setattr(dispatch_module, "finish_many", lost_after_the_first_chunk)
        with pytest.raises(OSError, match="connection lost"):
            dispatch(store, workspace, today=TODAY, worker=DEAD)
        monkeypatch.undo()
        arrived_first = len(recorder.messages)
        assert 1 <= arrived_first < 24
        second = dispatch(store, workspace, today=TODAY)
    states = _states(store)
    doubtful = sorted(i for i, (state, _) in states.items() if state == "uncertain")
    # Exactly the messages that were handed to the server are in doubt; none resent.
    assert len(doubtful) == second.recovered_uncertain == arrived_first
    assert [u["action"] for u in uncertain_sends(store)] == doubtful
    assert sorted(recorder.message_ids().values()) == [1] * 24
    assert second.sent == 24 - arrived_first
    assert {s for i, (s, _) in states.items() if i not in doubtful} == {"sent"}
    assert set(ids) == set(states)


_BOUNDARY = re.compile(rb"={15}\d{19}==")


@pytest.mark.parametrize("special", _SPECIALS)
def test_a_message_built_from_parts_is_the_library_s_message(special: str) -> None:
    """Byte for byte (bar the random boundary) across names around the fold, accents,
    long lines that need quoted-printable, and HTML or none."""
    bodies = ["Bonjour,\n\nFB-1 : 1 500,00 €\n", "x" * 200 + "\n", "Ligne\r\nDeux\rTrois\n\n",
              "", "é" * 120]
    for k, name in enumerate(_names(special)[::5]):
        parts: dict[str, Any] = dict(
            sender=mail.mailbox(name, "recouvrement@acme.fr", "creditor"),
            to=mail.mailbox(name, "debiteur@client.fr", "debtor"),
            reply_to=mail.mailbox(name, "compta@acme.fr", "reply-to") if k % 2 else None,
            subject=f"Relance – {name}", text=bodies[k % len(bodies)],
            html=None if k % 3 == 0 else f"<p>{name}</p>\n" * (k % 4 * 10 + 1),
            msg_id=mail.message_id(f"key-{k}", "acme.fr"),
            date=dt.datetime(2026, 3, 10, 7, 5, tzinfo=dt.UTC) if k % 2 else None)
        library = mail.message_bytes(mail.build_message(**parts))
        ours = mail.build_message_bytes(**parts)
        assert _BOUNDARY.sub(b"B", ours) == _BOUNDARY.sub(b"B", library), name


def test_a_message_with_an_attachment_still_carries_it() -> None:
    data = mail.build_message_bytes(
        sender=mail.mailbox("Acme", "a@acme.fr", "creditor"),
        to=mail.mailbox("Dupont", "d@client.fr", "debtor"), subject="Relance", text="x",
        html="<p>x</p>", attachments=[mail.Attachment("lettre.pdf", b"%PDF-1.7 ...")],
        msg_id="<k@acme.fr>")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["lettre.pdf"]


def _dispatch_in_groups(store: Store, tmp_path: Any, recorder: Recorder, *,
                        group: int) -> Any:
    """One dispatch process, two SMTP connections, the queue claimed `group` at a time."""
    with LoopbackSmtp(recorder) as server:
        workspace = make_workspace(tmp_path / "ws", {
            "smtp": server.config(max_connections=2),
            "dispatch": {"batch_size": group, "processes": 1}})
        return dispatch(store, workspace, today=TODAY)


def test_connections_are_kept_from_one_group_to_the_next(store: Store, tmp_path: Any) -> None:
    book(store, 30, template="rappel")
    recorder = Recorder()
    report = _dispatch_in_groups(store, tmp_path, recorder, group=10)
    assert report.sent == 30
    # Three groups of ten over the same two connections, each opened once.
    assert recorder.sessions == 2
    assert sorted(recorder.message_ids().values()) == [1] * 30


def test_a_connection_idle_too_long_is_opened_again(
        store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from relance.channels import smtp

    monkeypatch.setattr(smtp, "IDLE_REUSE_SECONDS", -1.0)  # every wait is too long
    book(store, 6, template="rappel")
    recorder = Recorder()
    report = _dispatch_in_groups(store, tmp_path, recorder, group=3)
    assert report.sent == 6 and recorder.sessions == 6
    assert sorted(recorder.message_ids().values()) == [1] * 6
