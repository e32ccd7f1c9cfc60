"""How fast letters render and e-mails go out (run by hand, not in the tests).

    .venv/bin/python bench/channels_bench.py [LETTERS] [EMAILS]

Letters: LETTERS grouped letters (`mise_en_demeure`, two invoices each, penalties on)
rendered to PDF through `dispatch`, with 1 and then 2 worker processes. E-mails: EMAILS
e-mails (text + HTML, no attachment; then with the letter attached) sent through
`dispatch` to an aiosmtpd server on 127.0.0.1, 4 connections reused. Each figure
includes the whole dispatch: claim and state commits, context, rendering, sending.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relance.channels.dispatch import dispatch
from relance.store.db import Store, open_store
from tests.channels.factory import (
    TODAY,
    add_action,
    add_creditor,
    add_debtor,
    add_invoice,
    make_workspace,
)
from tests.channels.smtp_server import LoopbackSmtp, Recorder


def book(store: Store, n: int, channel: str, template: str) -> None:
    with store.transaction() as s:
        creditor = add_creditor(s, penalty_rate="15")
        for k in range(n):
            debtor = add_debtor(s, creditor, f"B-{k:05d}")
            a = add_invoice(s, debtor, f"FB-{k:05d}-1", 150_000 + k, TODAY - dt.timedelta(days=40))
            b = add_invoice(s, debtor, f"FB-{k:05d}-2", 22_000 + k, TODAY - dt.timedelta(days=70))
            add_action(s, debtor, [a, b], channel=channel, template=template)


def letters(n: int, processes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        workspace = make_workspace(root, {"dispatch": {"letter_processes": processes,
                                                       "batch_size": n}})
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        book(store, n, "letter", "mise_en_demeure")
        start = time.perf_counter()
        report = dispatch(store, workspace, today=TODAY)
        elapsed = time.perf_counter() - start
        assert report.sent == n, report.errors
        store.dispose()
        return n / elapsed


def emails(n: int, template: str) -> float:
    with tempfile.TemporaryDirectory() as tmp, LoopbackSmtp(Recorder()) as server:
        root = Path(tmp) / "ws"
        workspace = make_workspace(root, {"smtp": server.config(max_connections=4),
                                          "dispatch": {"batch_size": 100}})
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        book(store, n, "email", template)
        start = time.perf_counter()
        report = dispatch(store, workspace, today=TODAY)
        elapsed = time.perf_counter() - start
        assert report.sent == n and len(server.handler.messages) == n, report.errors
        store.dispose()
        return n / elapsed


def main() -> None:
    n_letters = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    n_emails = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    print(f"letters, 1 process : {letters(n_letters, 1):7.1f} letters/s ({n_letters} letters)")
    print(f"letters, 2 processes: {letters(n_letters, 2):7.1f} letters/s ({n_letters} letters)")
    print(f"e-mails, no attachment: {emails(n_emails, 'rappel'):7.1f} e-mails/s "
          f"({n_emails} to loopback aiosmtpd)")
    few = max(20, n_emails // 20)
    print(f"e-mails, letter attached: {emails(few, 'relance_2'):7.1f} e-mails/s ({few})")


if __name__ == "__main__":
    main()
