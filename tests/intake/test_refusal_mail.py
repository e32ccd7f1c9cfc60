"""The e-mail that tells a creditor its file was refused: received by a real SMTP server
on loopback, in the creditor's language, naming each row and field; sent once, kept
until it can be sent, never sent again after a crash in the middle."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import update

from relance.engine.intake_records import SENDING, recent_files, set_notice_state
from relance.store.db import Store
from relance.store.models import Creditor
from tests.channels.smtp_server import LoopbackSmtp, Recorder, free_port
from tests.intake.drops import BAD, drop, scan, setup_workspace


def smtp_table(port: int) -> str:
    return (f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'timeout = 5\nfrom = "depot@cabinet.test"\n')


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def notices(store: Store) -> list[str | None]:
    return [line.notice for line in recent_files(store, None)]


def test_the_creditor_receives_the_refusal_with_rows_and_fields_once(
        store: Store, tmp_path: Path) -> None:
    with LoopbackSmtp(Recorder()) as server:
        workspace = setup_workspace(tmp_path / "ws", store, smtp_table(server.port))
        drop(workspace, "ACME", "bad.csv", BAD)

        result = scan(store, workspace)
        scan(store, workspace)  # the next pass finds nothing more to send

    assert result["notices_sent"] == 1
    [message] = server.handler.messages
    assert server.handler.envelopes == [("depot@cabinet.test", ["compta@acme.test"])]
    # ACME speaks French: the e-mail is in French.
    assert message["Subject"] == "Fichier bad.csv refusé : rien n’a été importé"
    text = text_of(message)
    assert text.startswith("Bonjour,")
    assert "bad.csv: row 3, column due_date" in text
    assert "bad.csv: row 4, column amount" in text
    assert "refused/" in text
    assert notices(store) == ["sent"]


def test_without_smtp_the_refusal_is_written_in_the_creditors_language(
        store: Store, tmp_path: Path) -> None:
    workspace = setup_workspace(tmp_path / "ws", store)
    drop(workspace, "BETA", "march.csv", BAD)

    result = scan(store, workspace)

    assert result["notices_written"] == 1
    [written] = (workspace.root / "outbox" / "intake" / "BETA").glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "File march.csv refused: nothing was imported"
    assert message["To"].addresses[0].addr_spec == "accounts@beta.test"
    assert "march.csv: row 3, column due_date" in text_of(message)
    assert notices(store) == ["written"]


def test_a_refusal_waits_for_the_server_and_then_leaves_once(
        store: Store, tmp_path: Path) -> None:
    port = free_port()  # nobody listens yet
    workspace = setup_workspace(tmp_path / "ws", store, smtp_table(port))
    drop(workspace, "ACME", "bad.csv", BAD)

    first = scan(store, workspace)
    assert first["refused"] == 1 and first["notices_retry"] == 1
    assert notices(store) == ["pending"]

    with LoopbackSmtp(Recorder(), port=port) as server:
        second = scan(store, workspace)
        scan(store, workspace)
    assert second["notices_sent"] == 1
    assert len(server.handler.messages) == 1
    assert notices(store) == ["sent"]


def test_a_refusal_to_a_creditor_without_contact_waits_for_the_address(
        store: Store, tmp_path: Path) -> None:
    with LoopbackSmtp(Recorder()) as server:
        workspace = setup_workspace(tmp_path / "ws", store, smtp_table(server.port))
        with store.transaction() as session:
            session.execute(update(Creditor).where(Creditor.code == "ACME")
                            .values(contact_email=None))
        drop(workspace, "ACME", "bad.csv", BAD)
        assert scan(store, workspace)["notices_no_address"] == 1
        assert server.handler.messages == []
        with store.transaction() as session:
            session.execute(update(Creditor).where(Creditor.code == "ACME")
                            .values(contact_email="nouvelle@acme.test"))
        assert scan(store, workspace)["notices_sent"] == 1
    assert [m["To"].addresses[0].addr_spec for m in server.handler.messages] == [
        "nouvelle@acme.test"]


def test_a_send_cut_short_by_a_crash_is_never_repeated(store: Store,
                                                       tmp_path: Path) -> None:
    port = free_port()
    workspace = setup_workspace(tmp_path / "ws", store, smtp_table(port))
    drop(workspace, "ACME", "bad.csv", BAD)
    scan(store, workspace)  # refused; the server is down, the notice stays pending
    [line] = recent_files(store, None)
    set_notice_state(store, line.id, SENDING)  # a process died in the middle of sending

    with LoopbackSmtp(Recorder(), port=port) as server:
        result = scan(store, workspace)
    assert result["notices_uncertain"] == 1
    assert server.handler.messages == []
    assert notices(store) == ["uncertain"]
