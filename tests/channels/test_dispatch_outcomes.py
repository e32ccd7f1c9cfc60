"""What `relance dispatch` leaves behind is said and shows in its exit code; uncertain sends
are listed and settled from the command line; `[smtp] from` serves as the sender of a
creditor without an address; user data never breaks the report's markup."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from relance.channels.claims import DispatchReport, claim, mark_started
from relance.channels.dispatch import dispatch
from relance.store.db import Store, open_store
from relance.store.models import Action, ActionState, Creditor, Event
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder, free_port
from tests.channels.test_cli import relance

# A process of this host that cannot exist (beyond the kernel's default pid range).
DEAD = f"{socket.gethostname()}:4194305:z"


def workspace_files(root: Path, toml: str = "[workspace]\n") -> Store:
    make_workspace(root)
    (root / "relance.toml").write_text(toml)
    return open_store(f"sqlite:///{root / 'relance.sqlite'}")


def email_actions(store: Store, refs: list[str], **debtor_kw: Any) -> list[int]:
    ids = []
    with store.transaction() as s:
        creditor = s.scalars(select(Creditor)).first() or add_creditor(s)
        for ref in refs:
            debtor = add_debtor(s, creditor, ref, **debtor_kw)
            invoice = add_invoice(s, debtor, f"FO-{ref}", 30_000, TODAY - dt.timedelta(days=20))
            ids.append(add_action(s, debtor, [invoice], channel="email", template="rappel").id)
    return ids


def left_uncertain_by_a_dead_dispatcher(store: Store, count: int) -> list[int]:
    """Claimed and started by a dispatcher that is gone: the next one makes them uncertain."""
    claimed = claim(store, channels={"email"}, worker=DEAD, today=TODAY, limit=count,
                    report=DispatchReport())
    for action_id in claimed:
        assert mark_started(store, action_id, DEAD)
    return claimed


REFUSING_SMTP = ("[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n"
                 "timeout = 2\n[dispatch]\nretry_base_seconds = 600\n")


def three_kinds_left(root: Path) -> None:
    """A send in doubt from a dead dispatcher, an e-mail the server refuses to take (to
    retry), an e-mail to a debtor without an address (failed)."""
    store = workspace_files(root, REFUSING_SMTP.format(port=free_port()))
    email_actions(store, ["U-1"])
    left_uncertain_by_a_dead_dispatcher(store, 1)
    email_actions(store, ["T-1"])
    email_actions(store, ["N-1"], email=None)
    store.dispose()


@pytest.mark.slow
def test_dispatch_exits_1_saying_what_is_failed_uncertain_or_waiting(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    three_kinds_left(root)
    result = relance(root, "dispatch", "--on", "2026-11-22")
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "1 failed" in out and "1 uncertain" in out and "1 waiting to retry" in out
    assert "action 3, email to N-1 (Boulangerie N-1): debtor N-1 has no e-mail address" in out
    assert "action 2, email to T-1 (Boulangerie T-1): cannot connect" in out
    assert "next attempt" in out
    assert "relance resend" in out and "relance uncertain" in out and "relance confirm" in out
    assert "Traceback" not in result.stderr
    # Nothing new the next time (the retry is not due): 0, and the doubt is recalled.
    again = relance(root, "dispatch", "--on", "2026-11-22")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 uncertain send from earlier dispatches still awaits a decision" in \
        " ".join(again.stdout.split())

    other = tmp_path / "ws2"
    three_kinds_left(other)
    as_json = relance(other, "dispatch", "--json", "--on", "2026-11-22")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["left"] == {"failed": 1, "uncertain": 1, "retry_wait": 1}
    assert sorted((p["action"], p["state"]) for p in report["problems"]) == [
        (1, "uncertain"), (2, "retry_wait"), (3, "failed")]


def test_a_dispatch_leaving_only_sends_to_retry_exits_1(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    store = workspace_files(root, REFUSING_SMTP.format(port=free_port()))
    email_actions(store, ["T-2"])
    store.dispose()
    result = relance(root, "dispatch", "--on", "2026-11-22")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 waiting to retry" in " ".join(result.stdout.split())


def test_clean_dispatch_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    store = workspace_files(root)
    email_actions(store, ["C-1"])
    store.dispose()
    result = relance(root, "dispatch", "--on", "2026-11-22")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 action sent" in result.stdout


@pytest.mark.slow
def test_uncertain_sends_are_listed_then_confirmed_or_resent(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    store = workspace_files(root)
    first, second = email_actions(store, ["Q-1", "Q-2"])
    left_uncertain_by_a_dead_dispatcher(store, 2)
    from relance.channels.recovery import recover_in_flight

    assert recover_in_flight(store, lease_seconds=900, actor="t") == 2
    store.dispose()

    listed = relance(root, "--json", "uncertain")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["uncertain"]
    assert [r["action"] for r in rows] == [first, second]
    row = rows[0]
    assert row["channel"] == "email" and row["debtor"] == "Q-1"
    assert row["debtor_name"] == "Boulangerie Q-1"
    assert row["claimed_by"] == DEAD and row["claimed_at"] and row["attempts"] == 1
    assert "may have been sent" in row["last_error"]
    assert row["output"] == {"started_attempt": 1}
    text = relance(root, "uncertain")
    assert text.returncode == 0 and "2 uncertain sends" in text.stdout
    assert "Boulangerie Q-2" in text.stdout and "relance confirm" in text.stdout

    assert relance(root, "confirm", str(first)).returncode == 0
    resent = relance(root, "resend", str(second))
    assert resent.returncode == 0, resent.stderr
    assert "back in the queue" in resent.stdout
    again = relance(root, "confirm", str(second))
    assert again.returncode == 2 and f"action {second} is approved, not uncertain" in again.stderr
    missing = relance(root, "resend", "999")
    assert missing.returncode == 2 and "no action 999" in missing.stderr
    assert "Traceback" not in again.stderr + missing.stderr
    empty = relance(root, "uncertain")
    assert empty.returncode == 0 and "No uncertain send" in empty.stdout

    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    with store.transaction() as s:
        assert str(s.get(Action, first).state) == "sent"  # type: ignore[union-attr]
        assert str(s.get(Action, second).state) == "approved"  # type: ignore[union-attr]
        events = {(e.kind, e.actor) for e in s.scalars(select(Event).where(
            Event.kind.in_(["action.confirmed_sent", "action.resend"])))}
        assert events == {("action.confirmed_sent", "alice"), ("action.resend", "alice")}
    store.dispose()


def _from_header(path: str) -> str:
    parsed = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
    return str(parsed["From"])


def test_smtp_from_is_the_sender_of_a_creditor_without_an_address(store: Store,
                                                                  tmp_path: Path) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s, email=None)
        debtor = add_debtor(s, creditor, "S-1")
        invoice = add_invoice(s, debtor, "FS-1", 30_000, TODAY - dt.timedelta(days=20))
        action_id = add_action(s, debtor, [invoice], channel="email", template="rappel").id
    # No SMTP host: the e-mail is written to the outbox, from [smtp] from.
    workspace = make_workspace(tmp_path / "ws", {"smtp": {"from": "relances@acme.fr"}})
    report = dispatch(store, workspace, today=TODAY)
    assert (report.sent, report.failed) == (1, 0), report.errors
    assert _from_header(report.paths[0]) == "Acme Distribution SAS <relances@acme.fr>"
    # Through a server, the same sender in the header and the envelope.
    from relance.channels.in_doubt import resend

    with store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None
        action.state = ActionState.FAILED
    resend(store, action_id, "alice")
    recorder = Recorder()
    with LoopbackSmtp(recorder) as server:
        served = make_workspace(tmp_path / "ws2", {"smtp": server.config(
            **{"from": "relances@acme.fr"})})
        report = dispatch(store, served, today=TODAY)
    assert report.sent == 1, report.errors
    [message] = recorder.messages
    assert str(message["From"]) == "Acme Distribution SAS <relances@acme.fr>"
    assert recorder.envelopes[0][0] == "relances@acme.fr"


def test_without_any_sender_the_email_fails_naming_both_places(sqlite_store: Store,
                                                               tmp_path: Path) -> None:
    with sqlite_store.transaction() as s:
        creditor = add_creditor(s, email=None)
        debtor = add_debtor(s, creditor, "S-2")
        invoice = add_invoice(s, debtor, "FS-2", 30_000, TODAY - dt.timedelta(days=20))
        add_action(s, debtor, [invoice], channel="email", template="rappel")
    report = dispatch(sqlite_store, make_workspace(tmp_path / "ws"), today=TODAY)
    assert report.failed == 1
    # Refused before rendering, with what to do (engine/creditor_fields.py).
    assert ("creditor ACME lacks sender e-mail: complete it with `relance creditor edit "
            "ACME`") in report.errors[0]


def test_markup_in_user_data_is_printed_as_written(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    store = workspace_files(root)
    email_actions(store, ["[red]X"], name="[/bold]", email=None)
    email_actions(store, ["[bold]Y"], name="[bold]Boulangerie", email=None)
    email_actions(store, ["[/bold]"], email=None)
    store.dispose()
    result = relance(root, "dispatch", "--on", "2026-11-22")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "debtor [red]X has no e-mail address" in out
    assert "[/bold]" in out and "[bold]Boulangerie" in out and "debtor [bold]Y" in out
    assert "debtor [/bold] has no e-mail address" in out
