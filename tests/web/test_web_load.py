"""What keeps the debtor's page cheap under load, on the real server: a view inside a
visit writes nothing, a new visit is written once; and the load bench's generator
(bench/web_bench.py) counts answers, errors and latencies as it says (not timed)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bench.web_bench import _generate, _process_tree, percentile
from relance.engine.portal_links import issue_link, link_keys, record_opening
from relance.store.db import Store, open_store
from relance.store.models import Event, PortalLink
from tests.cli import run_cli
from tests.web.book import portal_book
from tests.web.conftest import WebServer, free_port, web_workspace


def visits(store: Store, link_id: int) -> tuple[int, int]:
    """(the link's recorded openings, its `portal.opened` events)."""
    with store.session() as session:
        link = session.get(PortalLink, link_id)
        assert link is not None
        events = session.scalars(select(Event).where(
            Event.kind == "portal.opened", Event.subject_id == str(link_id))).all()
        return link.opened_count, len(events)


def test_views_inside_a_visit_write_once(web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    with web_server.store.transaction() as session:
        issued = issue_link(session, web_server.keys, debtor_id=book.debtor_id)
    with httpx.Client(base_url=web_server.base_url) as client:
        for _ in range(5):
            page = client.get(f"/d/{issued.token}")
            assert page.status_code == 200 and "Boulangerie du Marché" in page.text
    assert visits(web_server.store, issued.link_id) == (1, 1)

    # Forty minutes later it is another visit: written, once more.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=40)
    with web_server.store.write_transaction() as session:
        assert record_opening(session, issued.link_id, now=later)
    with web_server.store.write_transaction() as session:
        assert not record_opening(session, issued.link_id,
                                  now=later + dt.timedelta(minutes=29))
    assert visits(web_server.store, issued.link_id) == (2, 2)
    with web_server.store.session() as session:
        link = session.get(PortalLink, issued.link_id)
        assert link is not None and link.last_opened_at is not None
        assert link.last_opened_at.replace(tzinfo=dt.UTC) == later


def test_the_generator_counts_what_the_server_answered(web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    with web_server.store.transaction() as session:
        issued = issue_link(session, web_server.keys, debtor_id=book.other_debtor_id)
    port = int(web_server.base_url.rsplit(":", 1)[1])
    targets = [(f"/d/{issued.token}", "Northern Bakery Ltd"),
               # Another debtor's name: the page answers, but not as the bench expects.
               (f"/d/{issued.token}", "Boulangerie du Marché"),
               ("/d/" + "A" * 35, "")]
    result = asyncio.run(_generate(port, targets, rate=30, seconds=1, seed=5))
    assert result["sent"] == result["answered"] == 30
    kinds = result["errors"]
    assert set(kinds) <= {"another page", "HTTP 404"} and kinds
    assert 0 < sum(kinds.values()) < 30
    assert all(0 < latency < 10 for latency in result["latencies"])
    ordered = sorted(result["latencies"])
    assert percentile(ordered, 50) <= percentile(ordered, 99) == ordered[-1]


def test_workers_serve_the_page_from_processes_of_their_own(tmp_path: Path) -> None:
    port = free_port()
    root = tmp_path / "ws"
    workspace = web_workspace(root, f"http://127.0.0.1:{port}")
    store = open_store(workspace.database_url())
    book = portal_book(store)
    keys = link_keys(workspace)
    assert keys is not None
    with store.transaction() as session:
        token = issue_link(session, keys, debtor_id=book.debtor_id).token
    store.dispose()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "relance"), "--workspace", str(root), "web",
         "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/d/{token}", timeout=10)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert page.status_code == 200 and "Boulangerie du Marché" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        # The parent and its two workers (and uvicorn's own helper, when it has one).
        assert len(_process_tree(server.pid)) >= 3
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)


@pytest.mark.parametrize("workers", ["0", "65"])
def test_workers_out_of_range_are_refused(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path, workers: str) -> None:
    root = tmp_path / "ws"
    web_workspace(root, "http://127.0.0.1:9")
    code, _out, err = run_cli(capsys, "--workspace", str(root), "web", "--workers", workers)
    assert code == 2 and "--workers" in err
