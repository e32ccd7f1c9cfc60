"""`relance serve --once` and `--status` as a user runs them (in-process CLI, SQLite)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from relance.store.db import open_store
from tests.cli import run_cli as relance
from tests.scheduler.book import CONFIG, add_book, make_workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_workspace(tmp_path / "ws", CONFIG + 'log_file = "logs/serve.jsonl"\n')
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    add_book(store)
    store.dispose()
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    return root


def test_once_then_status(workspace: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T07:05:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--once")
    assert code == 0
    assert out.splitlines() == [
        "promise_check 10/03/2026: done",
        "daily_run 10/03/2026: done",
        "dispatch: outside the sending window, nothing sent.",
    ]
    log = [json.loads(line) for line in
           (workspace / "logs" / "serve.jsonl").read_text().splitlines()]
    ends = [(e["job"], e["status"]) for e in log if e["event"] == "job.end"]
    assert ends == [("promise_check", "done"), ("daily_run", "done")]
    run_end = next(e for e in log if e["event"] == "job.end" and e["job"] == "daily_run")
    assert run_end["counts"]["actions_created"] == 3
    assert isinstance(run_end["duration_ms"], int)

    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T07:30:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Now 10/03/2026 07:30 (Europe/Paris), holidays of FR; a business day."
    daily = next(line for line in lines if line.startswith("daily_run"))
    assert "11/03/2026 07:00" in daily  # done today: next is tomorrow
    assert "10/03/2026 done (" in daily and "actions_created 3" in daily
    summary = next(line for line in lines if line.startswith("summary"))
    assert "10/03/2026 08:00" in summary and "never run" in summary
    assert lines[-1] == "Sending window 08:00-19:00 on mon tue wed thu fri sat: closed now."

    code, out, _err = relance(capsys, "-w", str(workspace), "--json", "serve", "--status")
    report = json.loads(out)
    assert [j["job"] for j in report["jobs"]] == [
        "promise_check", "daily_run", "summary", "letter_batch"]
    assert report["jobs"][1]["last"][0]["status"] == "done"
    assert report["dispatch"]["next"] == "2026-03-10T08:00:00+01:00"


def test_once_in_json_and_a_second_once_finds_nothing(
        workspace: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T08:30:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "--json", "serve", "--once")
    assert code == 0
    result = json.loads(out)
    assert result["leader"] is True
    assert [(j["job"], j["status"]) for j in result["jobs"]] == [
        ("promise_check", "done"), ("daily_run", "done"), ("summary", "done")]
    assert result["dispatch"]["sent"] == 3  # inside the sending hours: the e-mails went
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--once")
    assert code == 0
    assert out.splitlines()[0] == "Nothing due for the once-a-day jobs."


def test_a_run_that_fails_exits_1_and_says_why(
        workspace: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "rules" / "chase.rules").write_text(
        "policy chase for segment = franchisee\n\nrule r:\n  when overdue >= \n")
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T07:05:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--once")
    assert code == 1
    assert "daily_run 10/03/2026: failed — the rules have errors" in out
    assert "chase.rules" in out


def test_summary_goes_to_stdout(workspace: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T08:05:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--once")
    assert code == 0
    assert "relance — morning summary for 10/03/2026" in out
    assert "Open balance €7,200.00, of which overdue €7,200.00." in out


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def test_the_summary_is_mailed_to_managers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    root = make_workspace(tmp_path / "ws", CONFIG + (
        'summary_to = ["boss@acme.test"]\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "relance@acme.test"\n'))
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    add_book(store)
    store.dispose()
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T08:05:00")
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        code, _out, err = relance(capsys, "-w", str(root), "serve", "--once")
    finally:
        server.stop()
    assert code == 0, err
    summaries = [m for m in inbox.messages if "morning summary" in str(m["Subject"])]
    assert len(summaries) == 1
    assert summaries[0]["To"] == "boss@acme.test"
    assert summaries[0]["Subject"] == "relance — morning summary 10/03/2026"
    body = summaries[0].get_body(("plain",))
    assert body is not None and "Awaiting approval: 0" in body.get_content()


def test_without_smtp_the_summary_lands_in_the_outbox(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_workspace(tmp_path / "ws", CONFIG + 'summary_to = ["boss@acme.test"]\n')
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T08:05:00")
    code, _out, err = relance(capsys, "-w", str(root), "serve", "--once")
    assert code == 0, err
    written = root / "outbox" / "summaries" / "2026-03-10" / "summary-1.eml"
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "relance — morning summary 10/03/2026"
    assert message["To"] == "boss@acme.test"


def test_a_day_replayed_by_hand_queues_nothing_twice(
        workspace: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T07:05:00")
    assert relance(capsys, "-w", str(workspace), "serve", "--once")[0] == 0
    code, out, _err = relance(capsys, "-w", str(workspace), "--json", "run",
                              "--on", "2026-03-10")
    assert code == 0
    assert json.loads(out)["actions_created"] == 0
    # And a day run by hand first is not run again by the scheduler.
    code, out, _err = relance(capsys, "-w", str(workspace), "--json", "run",
                              "--on", "2026-03-11")
    assert json.loads(out)["actions_created"] == 0
    monkeypatch.setenv("RELANCE_NOW", "2026-03-11T07:05:00")
    code, out, _err = relance(capsys, "-w", str(workspace), "--json", "serve", "--once")
    jobs = {j["job"]: j for j in json.loads(out)["jobs"]}
    assert "already_run" in jobs["daily_run"]["detail"]


def test_status_exits_1_when_the_last_run_failed(
        workspace: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "rules" / "chase.rules").write_text("policy chase\nrule r:\n  when\n")
    monkeypatch.setenv("RELANCE_NOW", "2026-03-10T07:05:00")
    assert relance(capsys, "-w", str(workspace), "serve", "--once")[0] == 1
    code, out, _err = relance(capsys, "-w", str(workspace), "serve", "--status")
    assert code == 1
    daily = next(line for line in out.splitlines() if line.startswith("daily_run"))
    assert "10/03/2026 failed (the rules have errors, nothing was run: rules/chase.rules:" in daily
