"""Personal links on the real server: what opens a page, what answers the one neutral
404 and changes nothing, and how links are issued, revoked and kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from relance.engine.portal_links import (
    TOKEN_CHARS,
    LinkKeys,
    is_genuine,
    issue_link,
    link_keys,
    revoke,
)
from relance.kernel.errors import ConfigError
from relance.kernel.settings import parse_settings
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Action, Event, PortalLink
from relance.web.app import create_app
from relance.web.common import LookupLimiter
from tests.cli import run_cli
from tests.web.book import portal_book
from tests.web.conftest import WebServer, running_server, web_workspace

NEUTRAL = "This link does not open a page"


def counts(store: Store) -> tuple[int, int, int]:
    """Links, their openings and events: what a refused request must leave as it was."""
    with store.session() as session:
        links = session.scalar(select(func.count()).select_from(PortalLink)) or 0
        opened = session.scalar(select(func.coalesce(func.sum(PortalLink.opened_count), 0)))
        events = session.scalar(select(func.count()).select_from(Event)) or 0
    return int(links), int(opened or 0), int(events)


def hand_link(server: WebServer, debtor_id: int, **kw: object) -> str:
    with server.store.transaction() as session:
        return issue_link(session, server.keys, debtor_id=debtor_id, **kw).token  # type: ignore[arg-type]


def assert_neutral(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert NEUTRAL in response.text
    assert "Traceback" not in response.text


def test_a_link_opens_its_debtor_page_and_nothing_else(web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    token = hand_link(web_server, book.debtor_id)
    assert len(token) == TOKEN_CHARS
    page = httpx.get(f"{web_server.base_url}/d/{token}")
    assert page.status_code == 200
    assert "FA-2026-0001" in page.text and "FA-2026-0114" in page.text
    # The other debtor's invoice and name are nowhere on this page.
    assert "FA-2026-0999" not in page.text and "Northern Bakery" not in page.text
    headers = page.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "set-cookie" not in headers
    assert "server" not in headers


def test_forged_unknown_expired_and_revoked_tokens_get_one_neutral_page(
        web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    genuine = hand_link(web_server, book.debtor_id)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    expired = hand_link(web_server, book.debtor_id, now=past)
    revoked = hand_link(web_server, book.debtor_id)
    with web_server.store.transaction() as session:
        link = session.scalars(select(PortalLink).order_by(PortalLink.id.desc())).first()
        assert link is not None
        revoke(session, [link], actor="tester")
    # Signed with another secret: well-formed, refused before any lookup.
    foreign = LinkKeys(secret=b"another-secret-" * 4, base_url=None, link_days=60)
    with web_server.store.transaction() as session:
        stranger = issue_link(session, foreign, debtor_id=book.debtor_id).token
    flipped = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    before = counts(web_server.store)
    for token in (flipped, stranger, expired, revoked, "x" * TOKEN_CHARS, "short",
                  genuine + "A", "%2e%2e%2fetc%2fpasswd", "<script>alert(1)</script>"):
        assert_neutral(httpx.get(f"{web_server.base_url}/d/{token}"))
    for path in ("/", "/d/", "/admin", f"/d/{genuine}/letters/000", "/static/../app.py"):
        assert_neutral(httpx.get(f"{web_server.base_url}{path}"))
    assert_neutral(httpx.post(f"{web_server.base_url}/d/{genuine}", data={"x": "1"}))
    assert counts(web_server.store) == before
    assert not is_genuine(web_server.keys.secret, stranger)


def test_guessing_tokens_is_slowed_down_per_address(store: Store, tmp_path: Path) -> None:
    # The default budget, on a clock held still: a slow machine's seconds between two
    # requests would refill the bucket (one lookup a second) and let the last one in.
    limiter = LookupLimiter(clock=lambda: 1_000.0)
    with running_server(store, tmp_path / "ws", limiter=limiter) as server:
        book = portal_book(server.store)
        genuine = hand_link(server, book.debtor_id)
        # A debtor reading their page again and again is not slowed down.
        assert {httpx.get(f"{server.base_url}/d/{genuine}").status_code
                for _ in range(20)} == {200}
        statuses = [httpx.get(f"{server.base_url}/d/{'A' * TOKEN_CHARS}").status_code
                    for _ in range(12)]
        assert statuses[:4] == [404] * 4
        assert statuses[-1] == 429
        # The address waits, whatever the token: guessing costs the guesser.
        limited = httpx.get(f"{server.base_url}/d/{genuine}")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"


def test_a_communication_carries_the_same_link_however_often_it_is_prepared(
        web_server: WebServer) -> None:
    book = portal_book(web_server.store)
    with web_server.store.transaction() as session:
        action = session.get(Action, book.email_action_id)
        assert action is not None
        first = issue_link(session, web_server.keys, debtor_id=book.debtor_id, action=action)
    with web_server.store.transaction() as session:
        action = session.get(Action, book.email_action_id)
        assert action is not None
        again = issue_link(session, web_server.keys, debtor_id=book.debtor_id, action=action)
        rows = session.scalars(select(PortalLink).where(
            PortalLink.action_id == book.email_action_id)).all()
    assert again.token == first.token and len(rows) == 1
    assert first.url == f"{web_server.base_url}/d/{first.token}"
    # Only a hash of the token is kept.
    assert rows[0].token_hash != first.token and first.token not in rows[0].token_hash


def cli_database(db_url: tuple[str, str | None]) -> str:
    """The URL a `relance` process opens for this test's database (its PostgreSQL
    schema through the connection's options)."""
    url, schema = db_url
    return url if schema is None else f"{url}?options=-csearch_path%3D{schema}"


def test_revoke_from_the_command_line(web_server: WebServer, db_url: tuple[str, str | None],
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    book = portal_book(web_server.store)
    first = hand_link(web_server, book.debtor_id)
    second = hand_link(web_server, book.debtor_id)
    theirs = hand_link(web_server, book.other_debtor_id)
    monkeypatch.chdir(web_server.workspace.root)
    url = cli_database(db_url)
    code, out, err = run_cli(capsys, "--db", url, "web", "revoke",
                             f"{web_server.base_url}/d/{first}")
    assert code == 0, err
    assert "1 link revoked" in out
    assert_neutral(httpx.get(f"{web_server.base_url}/d/{first}"))
    assert httpx.get(f"{web_server.base_url}/d/{second}").status_code == 200
    code, out, err = run_cli(capsys, "--db", url, "web", "revoke", "--debtor", "D-0001")
    assert code == 0, err
    assert "1 link revoked" in out
    assert_neutral(httpx.get(f"{web_server.base_url}/d/{second}"))
    assert httpx.get(f"{web_server.base_url}/d/{theirs}").status_code == 200
    with web_server.store.session() as session:
        kinds = session.scalars(select(Event.kind).where(Event.kind == "portal.revoked")).all()
    assert len(kinds) == 2
    code, out, err = run_cli(capsys, "--db", url, "web", "revoke", "999999")
    assert code == 2 and "no personal link 999999" in err


def test_the_web_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"relance.toml: \[web\] base_url must be the address"):
        parse_settings({"web": {"base_url": "pay.example.fr"}})
    with pytest.raises(ConfigError, match="did you mean link_days"):
        parse_settings({"web": {"link_day": 30}})
    with pytest.raises(ConfigError, match=r"\[web\] promise_max_days must be between 1 and 365"):
        parse_settings({"web": {"promise_max_days": 0}})
    web = parse_settings({"web": {"base_url": "https://pay.example.fr/"}}).web
    assert (web.base_url, web.link_days, web.promise_max_days, web.upload_max_kb) == (
        "https://pay.example.fr", 60, 30, 5120)


def test_no_server_without_a_secret_only_its_owner_reads(
        sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELANCE_WEB_SECRET", raising=False)
    with pytest.raises(ConfigError, match="RELANCE_WEB_SECRET or \\[web\\] secret_file"):
        create_app(Workspace(tmp_path, {}), store=sqlite_store)
    workspace = web_workspace(tmp_path / "ws", "https://pay.example.fr")
    secret = workspace.root / ".relance" / "web.secret"
    secret.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by its owner only"):
        create_app(workspace, store=sqlite_store)
    secret.chmod(0o600)
    secret.write_text("too short\n")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        link_keys(workspace)
    # The environment comes first, and the file is then not read at all.
    monkeypatch.setenv("RELANCE_WEB_SECRET", "e" * 48)
    keys = link_keys(workspace)
    assert keys is not None and keys.secret == b"e" * 48
    assert keys.base_url == "https://pay.example.fr"
