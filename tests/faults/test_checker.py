"""The campaign's checker must be able to fail: planted losses, duplicates and unlisted
doubts are found, by the pure judge and through a real round."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bench.faults.book import Sizes
from bench.faults.checker import judge
from bench.faults.evidence import KEEP_DIR_ENV
from bench.faults.gateway import LoopbackGateway
from bench.faults.rounds import open_round

TOKENS = {1: "<a>", 2: "<b>", 3: "<c>", 4: "<d>", 5: "<e>"}


def test_a_clean_history_passes() -> None:
    verdict = judge({1: "sent", 2: "sent", 3: "uncertain", 4: "uncertain", 5: "failed"},
                    TOKENS, Counter({"<a>": 1, "<b>": 1, "<c>": 1}), [3, 4])
    assert verdict.clean
    assert (verdict.exactly_once, verdict.in_doubt, verdict.in_doubt_delivered,
            verdict.refused) == (3, 2, 1, 1)


@pytest.mark.parametrize(("states", "received", "listed", "lost", "duplicated", "is_listed"), [
    # sent, but the server never had it
    ({1: "sent", 2: "sent"}, {"<a>": 1}, [], 1, 0, True),
    # left in the queue or in flight at the end
    ({1: "approved", 2: "in_flight"}, {}, [], 2, 0, True),
    # shown as refused, yet it arrived: resending it would send it twice
    ({1: "failed"}, {"<a>": 1}, [], 1, 0, True),
    # delivered twice
    ({1: "sent"}, {"<a>": 2}, [], 0, 1, True),
    # in doubt but missing from `relance uncertain`
    ({1: "uncertain", 2: "uncertain"}, {}, [1], 0, 0, False),
    # listed as in doubt while it is settled
    ({1: "sent"}, {"<a>": 1}, [1], 0, 0, False),
])
def test_planted_faults_are_found(states: dict[int, str], received: dict[str, int],
                                  listed: list[int], lost: int, duplicated: int,
                                  is_listed: bool) -> None:
    verdict = judge(states, TOKENS, Counter(received), listed)
    assert (verdict.lost, verdict.duplicated, verdict.listed) == (lost, duplicated, is_listed)
    assert not verdict.clean


def test_a_delivery_of_no_known_action_is_a_fault() -> None:
    verdict = judge({1: "sent"}, TOKENS, Counter({"<a>": 1, "<zz>": 1}), [])
    assert verdict.strangers == 1 and not verdict.clean


@pytest.mark.slow
def test_a_real_round_with_a_planted_duplicate_and_loss_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEEP_DIR_ENV, str(tmp_path / "kept"))
    with open_round("sqlite", tmp_path, Sizes(letter=2, email=3, sms=3), 1) as rnd:
        rnd.finish_queue()
        before = rnd.verdicts()
        assert all(v.clean and v.exactly_once == v.actions for v in before.values())
        # A duplicate: the gateway receives one number's SMS a second time.
        number = next(iter(rnd.tokens["sms"].values()))
        urllib.request.urlopen(urllib.request.Request(
            rnd.gateway.url, data=json.dumps({"to": number, "text": "again"}).encode(),
            method="POST"), timeout=10).close()
        # A loss: the print batch of letters committed sent disappears.
        for batch in Path(rnd.workspace.outbox_dir).glob("letters/*/batch-*.pdf"):
            batch.unlink()
        after = rnd.verdicts()
    assert after["sms"].duplicated == 1 and not after["sms"].clean
    assert after["letter"].lost == 2 and not after["letter"].clean
    assert after["email"].clean
    # The round's database goes with the round: what explains each fault is kept.
    [duplicate] = json.loads((tmp_path / "kept" / "round-1-sms.json").read_text())
    assert duplicate["received"] == 2 and duplicate["action"]["state"] == "sent"
    assert any(event["kind"].startswith("action.") for event in duplicate["events"])
    lost = json.loads((tmp_path / "kept" / "round-1-letter.json").read_text())
    assert [entry["received"] for entry in lost] == [0, 0]
    assert not (tmp_path / "kept" / "round-1-email.json").exists()


def test_the_gateway_counts_no_delivery_for_a_request_cut_short() -> None:
    # A dispatcher SIGKILLed between its request's headers and its body: no text was
    # sent, and counting one (to "None") would show as a duplicate that never happened.
    with LoopbackGateway() as gateway:
        host, port = "127.0.0.1", int(gateway.url.split(":")[2].split("/")[0])
        for body in (b"", b'{"to": "+336'):
            with socket.create_connection((host, port), timeout=10) as client:
                client.sendall(b"POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               b"application/json\r\nContent-Length: 40\r\n\r\n" + body)
                client.shutdown(socket.SHUT_WR)
                reply = client.recv(200)
            assert reply.startswith(b"HTTP/1.0 400")
        assert gateway.counts() == Counter() and gateway.incomplete == 2
