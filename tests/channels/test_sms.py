"""SMS: E.164 numbers, length and segments, and the HTTP gateway against a local server."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from relance.channels.dispatch import dispatch
from relance.channels.sms import PhoneInvalid, sms_size, to_e164
from relance.store.db import Store
from relance.store.models import Action, ActionState
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "FR", "+33612345678"),
    ("0033612345678", "FR", "+33612345678"),
    ("079 123 45 67", "CH", "+41791234567"),
    ("+44 7911 123456", "FR", "+447911123456"),
])
def test_numbers_are_normalised_to_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "12", "06 12 34", "not a number", "+33 1"])
def test_invalid_numbers_are_refused_clearly(raw: str) -> None:
    with pytest.raises(PhoneInvalid):
        to_e164(raw)


def test_length_and_segments() -> None:
    assert sms_size("a" * 160).segments == 1
    assert sms_size("a" * 161).segments == 2
    assert sms_size("€" * 80).units == 160  # the euro sign takes two GSM-7 units
    unicode = sms_size("Échéance dépassée ✓" * 4)
    assert unicode.encoding == "UCS-2" and unicode.segments == 2
    assert sms_size("é" * 70).encoding == "GSM-7"  # é is in the GSM alphabet


class Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], dict[str, Any]]]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gateway.received.append((dict(self.headers), body))
        self.send_response(Gateway.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"message_id": f"m{len(Gateway.received)}"}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received = []
    Gateway.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()


def _sms_book(store: Store, phones: list[str]) -> list[int]:
    ids = []
    with store.transaction() as s:
        creditor = add_creditor(s)
        for k, phone in enumerate(phones):
            debtor = add_debtor(s, creditor, f"S-{k}", phone=phone)
            inv = add_invoice(s, debtor, f"FS-{k}", 4_250, TODAY - dt.timedelta(days=5))
            ids.append(add_action(s, debtor, [inv], channel="sms", template="relance_1").id)
    return ids


def test_http_gateway_receives_configured_body_and_auth(
        sqlite_store: Store, tmp_path: Path, gateway: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_SMS_TOKEN", "Bearer s3cret")
    ids = _sms_book(sqlite_store, ["06 12 34 56 78", "12"])
    workspace = make_workspace(tmp_path / "ws", {"sms": {
        "url": gateway, "auth_header": "Authorization", "sender": "ACME",
        "id_field": "message_id",
        "body": {"recipient": "{to}", "message": "{text}", "originator": "{sender}"}}})
    report = dispatch(sqlite_store, workspace, today=TODAY)
    assert report.sent == 1 and report.failed == 1
    [(headers, body)] = Gateway.received
    assert headers["Authorization"] == "Bearer s3cret"
    assert body["recipient"] == "+33612345678" and body["originator"] == "ACME"
    assert "42,50" in body["message"] and "FS-0" in body["message"]
    with sqlite_store.transaction() as s:
        ok, bad = (s.get(Action, i) for i in ids)
        assert ok is not None and bad is not None
        assert ok.state == ActionState.SENT and ok.output["gateway_id"] == "m1"
        assert ok.output["segments"] >= 1 and ok.output["characters"] > 20
        assert bad.state == ActionState.FAILED and "'12' is not" in (bad.last_error or "")


def test_gateway_5xx_is_retried_and_4xx_fails(sqlite_store: Store, tmp_path: Path,
                                              gateway: str) -> None:
    [action_id] = _sms_book(sqlite_store, ["0612345678"])
    workspace = make_workspace(tmp_path / "ws", {
        "sms": {"url": gateway}, "dispatch": {"retry_base_seconds": 600}})
    Gateway.status = 503
    assert dispatch(sqlite_store, workspace, today=TODAY).retry == 1
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.RETRY_WAIT
        action.next_attempt_at = None
    Gateway.status = 400
    assert dispatch(sqlite_store, workspace, today=TODAY).failed == 1


def test_secret_in_relance_toml_is_refused(sqlite_store: Store, tmp_path: Path) -> None:
    from relance.kernel.errors import ConfigError

    workspace = make_workspace(tmp_path / "ws", {"sms": {"url": "http://x", "token": "abc"},
                                                 "smtp": {"host": "h", "password": "p"}})
    with pytest.raises(ConfigError, match=r"\[smtp\] password: secrets do not belong"):
        dispatch(sqlite_store, workspace, today=TODAY)


def test_preview_shows_the_number_length_and_segments(sqlite_store: Store,
                                                      tmp_path: Path) -> None:
    from relance.channels.preview import render_preview

    [action_id] = _sms_book(sqlite_store, ["06 12 34 56 78"])
    preview = render_preview(sqlite_store, make_workspace(tmp_path / "ws"), action_id,
                             today=TODAY)
    assert preview.text.startswith("To: +33612345678\n")
    assert "characters (GSM-7), 1 segment(s)" in preview.text


def _hang_up_after_reading(listener: socket.socket, received: list[bytes]) -> None:
    """A gateway that reads a whole request and closes the connection without a word:
    what a crash, a proxy's reset or an overloaded gateway looks like from outside."""
    connection, _ = listener.accept()
    with connection:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += connection.recv(65536)
        received.append(body)


def test_a_gateway_that_hangs_up_after_the_request_leaves_the_sms_in_doubt(
        sqlite_store: Store, tmp_path: Path) -> None:
    # Retried, the text would reach the debtor twice (the fault campaign saw it once).
    [action_id] = _sms_book(sqlite_store, ["0612345678"])
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        server = threading.Thread(target=_hang_up_after_reading, args=(listener, received))
        server.start()
        workspace = make_workspace(tmp_path / "ws", {
            "sms": {"url": f"http://127.0.0.1:{port}/send", "timeout": 5},
            "dispatch": {"retry_base_seconds": 0}})
        report = dispatch(sqlite_store, workspace, today=TODAY)
        server.join(timeout=10)
    assert len(received) == 1 and b"+33612345678" in received[0]
    assert (report.uncertain, report.retry, report.sent) == (1, 0, 0)
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.UNCERTAIN
    # A later dispatch leaves it alone: only an operator's resend sends it again.
    assert dispatch(sqlite_store, workspace, today=TODAY).sent == 0


def test_a_gateway_that_refuses_the_connection_is_retried(
        sqlite_store: Store, tmp_path: Path) -> None:
    [action_id] = _sms_book(sqlite_store, ["0612345678"])
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]  # closed again when the block ends
    workspace = make_workspace(tmp_path / "ws", {
        "sms": {"url": f"http://127.0.0.1:{closed_port}/send"},
        "dispatch": {"retry_base_seconds": 600}})
    assert dispatch(sqlite_store, workspace, today=TODAY).retry == 1
    with sqlite_store.transaction() as s:
        action = s.get(Action, action_id)
        assert action is not None and action.state == ActionState.RETRY_WAIT
