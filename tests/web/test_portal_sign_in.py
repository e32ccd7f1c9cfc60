"""Signing in to the portal of the people inside, for real: uvicorn over the store (SQLite
and PostgreSQL), an aiosmtpd server on loopback receiving the links, Chromium following
them, httpx for what a browser would not send (forged forms, old cookies)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relance.engine.portal_sign_in import SESSION_HOURS, issue_sign_in, open_session
from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store, open_store
from relance.store.models import PortalSession, PortalSignIn
from relance.web.app import create_app
from relance.web.common import CSRF_FIELD, LookupLimiter, Portal
from relance.web.portal_people import insider_of, render_insider
from tests.channels.factory import TODAY
from tests.channels.smtp_server import LoopbackSmtp, Recorder
from tests.cli import run_cli
from tests.web.conftest import ServerThread, free_port, web_workspace

SOFIA = "sofia.martin@example.fr"
CLAIRE = "claire.durand@example.fr"
SENDER = "portail@relance.example"
PEOPLE: dict[str, dict[str, Any]] = {
    "users.sofia": {"role": "sales_rep", "email": SOFIA, "sales_rep": "Sofia Martin"},
    "users.claire": {"role": "credit_manager", "email": CLAIRE},
}
# A page of the test's own, behind the portal's sign-in: whoever `insider_of` finds, in
# the portal's layout (with its sign-out button), whatever the portal's pages are.
WHO_PATH = "/portal/test-who"
LINK = re.compile(r"(https?://\S+/portal/sign-in/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


async def _who(request: Request) -> Response:
    insider = await insider_of(request)
    return render_insider(request, insider, "portal_base.html", {})


@dataclass(frozen=True)
class SignInServer:
    base_url: str
    store: Store
    portal: Portal
    mailbox: Recorder

    def messages_to(self, address: str, count: int = 1, wait: float = 10.0) -> list[EmailMessage]:
        """The messages received for `address`, once `count` have arrived (the link is
        sent after the page has answered)."""
        deadline = time.monotonic() + wait
        while True:
            with self.mailbox.lock:
                found = [message for message, (_from, rcpts) in
                         zip(self.mailbox.messages, self.mailbox.envelopes, strict=True)
                         if address in rcpts]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def session_count(self) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(PortalSession)) or 0)


@contextlib.contextmanager
def sign_in_server(store: Store, root: Path, *, people: bool = True, smtp: bool = True,
                   base_url: str | None = None,
                   language: str | None = None) -> Iterator[SignInServer]:
    recorder = Recorder()
    with LoopbackSmtp(recorder) as sink:
        port = free_port()
        address = f"http://127.0.0.1:{port}"
        tables: dict[str, dict[str, Any]] = dict(PEOPLE) if people else {}
        if language is not None:
            tables["ui"] = {"language": language}
        if smtp:
            tables["smtp"] = {**sink.config(), "from": SENDER}
        workspace = web_workspace(root, base_url or address, tables=tables)
        app = create_app(workspace, store=store, today=lambda: TODAY,
                         limiter=LookupLimiter(capacity=10_000, per_second=1_000))
        app.router.routes.insert(0, Route(WHO_PATH, _who))
        portal: Portal = app.state.portal
        with ServerThread(app, port):
            yield SignInServer(address, store, portal, recorder)


@pytest.fixture
def server(store: Store, tmp_path: Path) -> Iterator[SignInServer]:
    with sign_in_server(store, tmp_path / "workspace") as running:
        yield running


def _link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def _ask(client: httpx.Client, address: str) -> httpx.Response:
    """What the sign-in form does: read the page (its token, its cookie), post it."""
    page = client.get("/portal/sign-in")
    assert page.status_code == 200
    return client.post("/portal/sign-in", data={CSRF_FIELD: _csrf(page.text), "email": address})


def _confirm(client: httpx.Client, link: str) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200
    return client.post(link, data={CSRF_FIELD: _csrf(page.text)})


def _client(server: SignInServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=20)


def test_a_person_signs_in_by_the_emailed_link_once_and_signs_out(
        server: SignInServer, browser_page: Any) -> None:
    page = browser_page
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{server.base_url}/portal/sign-in")
    page.fill("input[type=email]", "  Sofia.Martin@Example.fr ")
    page.click("button[type=submit]")
    assert page.get_by_role("heading", name="Consultez votre messagerie").is_visible()

    messages = server.messages_to(SOFIA)
    assert len(messages) == 1
    message = messages[0]
    # To the address relance.toml gives, in the workspace's language (French).
    assert str(message["To"]) == SOFIA
    assert SENDER in str(message["From"])
    assert message["Subject"] == "Votre lien de connexion au portail"
    link = _link_in(message)
    assert link.startswith(f"{server.base_url}/portal/sign-in/")

    # The link opens a page with one button (a mail scanner's fetch spends nothing).
    page.goto(link)
    page.goto(link)
    assert server.session_count() == 0
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{server.base_url}/portal/")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session = cookies["relance-portal"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/"
    assert session["secure"] is False  # plain http on loopback; see the TLS test
    hours = (session["expires"] - time.time()) / 3600
    assert SESSION_HOURS - 0.1 < hours <= SESSION_HOURS
    assert server.session_count() == 1

    # Signed in: the portal's layout names her, with the sign-out button.
    page.goto(f"{server.base_url}{WHO_PATH}")
    assert page.locator(".portal-person").inner_text() == "sofia"

    # The link works once.
    with httpx.Client(follow_redirects=False, timeout=20) as other:
        assert _confirm(other, link).status_code == 404
    assert server.session_count() == 1

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{server.base_url}/portal/sign-in")
    assert "relance-portal" not in {cookie["name"] for cookie in page.context.cookies()}
    # The old cookie no longer opens anything: to the sign-in page.
    with _client(server) as client:
        client.cookies.set("relance-portal", session["value"])
        answer = client.get(WHO_PATH)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/sign-in"
    # Nothing the strict CSP had to block (no inline style or script in the pages).
    assert console == []


def test_an_unknown_address_gets_the_same_page_and_no_email(server: SignInServer) -> None:
    with _client(server) as client:
        known = _ask(client, CLAIRE)
        unknown = _ask(client, "nobody@example.fr")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(CLAIRE, "ADDRESS") == unknown.text.replace(
        "nobody@example.fr", "ADDRESS")
    assert len(server.messages_to(CLAIRE)) == 1
    time.sleep(0.5)
    with server.mailbox.lock:
        assert [rcpts for _from, rcpts in server.mailbox.envelopes] == [[CLAIRE]]
    with server.store.session() as session:
        assert session.scalars(select(PortalSignIn.user_name)).all() == ["claire"]


def test_the_link_speaks_the_workspace_language(store: Store, tmp_path: Path) -> None:
    with sign_in_server(store, tmp_path / "ws", language="en") as server, \
            _client(server) as client:
        page = _ask(client, SOFIA)
        assert page.status_code == 200
        assert '<html lang="en">' in page.text and "Check your e-mail" in page.text
        message = server.messages_to(SOFIA)[0]
    assert message["Subject"] == "Your sign-in link to the portal"
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().startswith("Hello sofia,")


def test_an_expired_link_is_refused(server: SignInServer) -> None:
    with _client(server) as client:
        assert _ask(client, CLAIRE).status_code == 200
        link = _link_in(server.messages_to(CLAIRE)[0])
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
        server.portal.now = lambda: later
        refused = _confirm(client, link)
    assert refused.status_code == 404
    # The neutral page: nothing says whether the link was spent, late or never issued.
    assert "Ce lien n’ouvre aucune page" in refused.text
    assert "relance-portal" not in refused.headers.get("set-cookie", "")
    assert server.session_count() == 0


def test_forms_without_their_token_are_refused(server: SignInServer) -> None:
    with _client(server) as client:
        # Asking for a link with no token, or another visitor's.
        assert client.post("/portal/sign-in", data={"email": CLAIRE}).status_code == 403
        page = client.get("/portal/sign-in")
        token = _csrf(page.text)
        with _client(server) as stranger:
            assert stranger.post("/portal/sign-in",
                                 data={CSRF_FIELD: token, "email": CLAIRE}).status_code == 403
        time.sleep(0.3)
        assert server.messages_to(CLAIRE, wait=0) == []

        with server.store.session() as session:
            link = f"{server.base_url}/portal/sign-in/" + issue_sign_in(
                session, "claire", dt.datetime.now(dt.UTC))
            session.commit()
        # Confirming without the token, or from a visitor without the page's cookie
        # (another site's form): refused, and the link is not spent.
        assert client.post(link, data={}).status_code == 403
        confirm_page = client.get(link)
        with _client(server) as stranger:
            assert stranger.post(link, data={CSRF_FIELD: _csrf(confirm_page.text)}
                                 ).status_code == 403
        assert server.session_count() == 0
        signed_in = client.post(link, data={CSRF_FIELD: _csrf(confirm_page.text)})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/portal/"
        assert server.session_count() == 1

        # Signing out without the session's token, or with a wrong one: still signed in.
        assert client.post("/portal/sign-out", data={}).status_code == 403
        assert client.post("/portal/sign-out",
                           data={CSRF_FIELD: "0" * 64}).status_code == 403
        assert client.get(WHO_PATH).status_code == 200
        # With it, out.
        who = client.get(WHO_PATH)
        out = client.post("/portal/sign-out", data={CSRF_FIELD: _csrf(who.text)})
        assert out.status_code == 303
        assert out.headers["location"] == "/portal/sign-in"
        assert client.get(WHO_PATH).status_code == 303


def test_too_many_attempts_answer_429(server: SignInServer) -> None:
    with _client(server) as client:
        # By the address asked for: a few links, then a wait, whoever asks.
        for _ in range(3):
            assert _ask(client, CLAIRE).status_code == 200
        refused = _ask(client, CLAIRE)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        # An unknown address is counted the same: the 429 tells nothing either.
        for _ in range(3):
            assert _ask(client, "nobody@example.fr").status_code == 200
        assert _ask(client, "nobody@example.fr").status_code == 429
    assert len(server.messages_to(CLAIRE, count=3)) == 3

    # By the visitor: links that open nothing cost more than asking.
    server.portal.sign_in_by_client = LookupLimiter(capacity=12, per_second=0.001,
                                                    failure_cost=5)
    with _client(server) as client:
        forged = f"{server.base_url}/portal/sign-in/{'A' * 43}"
        assert _confirm(client, forged).status_code == 404
        assert _confirm(client, forged).status_code == 404
        # 10 spent; a good link now finds the door shut too.
        with server.store.session() as session:
            good = f"{server.base_url}/portal/sign-in/" + issue_sign_in(
                session, "claire", dt.datetime.now(dt.UTC))
            session.commit()
        assert _confirm(client, forged).status_code == 404
        assert _confirm(client, good).status_code == 429
        assert client.post("/portal/sign-in", data={}).status_code == 429
    assert server.session_count() == 0


def test_over_tls_the_session_cookie_is_secure_and_host_bound(
        store: Store, tmp_path: Path) -> None:
    with sign_in_server(store, tmp_path / "ws", base_url="https://portail.example") as server, \
            _client(server) as client:
        # The cookies of a TLS portal are Secure: httpx keeps them only on https, so the
        # test reads them from the headers and sends them back by hand.
        page = client.get("/portal/sign-in")
        form_cookie = page.headers["set-cookie"]
        assert form_cookie.startswith("__Host-relance-portal-form=")
        assert "Secure" in form_cookie and "HttpOnly" in form_cookie
        with server.store.session() as session:
            token = issue_sign_in(session, "sofia", dt.datetime.now(dt.UTC))
            session.commit()
        link = f"/portal/sign-in/{token}"
        form_value = form_cookie.split(";")[0].split("=", 1)[1]
        confirm = client.get(link, headers={"cookie": f"__Host-relance-portal-form={form_value}"})
        answer = client.post(link, data={CSRF_FIELD: _csrf(confirm.text)},
                             headers={"cookie": f"__Host-relance-portal-form={form_value}"})
    assert answer.status_code == 303
    parts = [part.strip() for part in answer.headers["set-cookie"].split(";")]
    assert parts[0].startswith("__Host-relance-portal=")
    assert {"HttpOnly", "Path=/", "Secure", "SameSite=strict",
            f"Max-Age={SESSION_HOURS * 3600}"} <= set(parts)
    assert not any(part.lower().startswith("domain") for part in parts)


def test_a_workspace_without_people_has_no_portal(store: Store, tmp_path: Path) -> None:
    with sign_in_server(store, tmp_path / "ws", people=False) as server, \
            _client(server) as client:
        for path in ("/portal/sign-in", f"/portal/sign-in/{'A' * 43}", WHO_PATH):
            assert client.get(path).status_code == 404
        assert client.post("/portal/sign-out", data={}).status_code == 404
        assert client.post("/portal/sign-in", data={"email": CLAIRE}).status_code == 404


def test_without_smtp_the_page_says_sign_in_by_email_is_not_set_up(
        store: Store, tmp_path: Path) -> None:
    with sign_in_server(store, tmp_path / "ws", smtp=False) as server, \
            _client(server) as client:
        page = client.get("/portal/sign-in")
        assert page.status_code == 200
        assert "pas encore en place" in page.text
        assert 'type="email"' not in page.text
        # A link issued by hand (`relance portal-link`) still signs in.
        with server.store.session() as session:
            token = issue_sign_in(session, "claire", dt.datetime.now(dt.UTC))
            session.commit()
        assert _confirm(client, f"/portal/sign-in/{token}").status_code == 303


def test_a_person_removed_from_relance_toml_is_out(server: SignInServer) -> None:
    with server.store.session() as session:
        token = open_session(session, "sofia", dt.datetime.now(dt.UTC))
        session.commit()
    with _client(server) as client:
        client.cookies.set("relance-portal", token)
        assert client.get(WHO_PATH).status_code == 200
        config = server.portal.workspace.config_path
        assert config is not None
        text = config.read_text()
        config.write_text(text.replace("[users.sofia]", "[users.sofia_gone]"))
        server.portal.workspace = Workspace(server.portal.workspace.root,
                                            load_config(config), config)
        assert client.get(WHO_PATH).status_code == 303



def test_relance_portal_link_prints_a_link_that_signs_in(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """For a first set-up without e-mail: a credit manager prints a link by hand."""
    root = tmp_path / "ws"
    port = free_port()
    people = {**PEOPLE,
              "users.acme_manager": {"role": "credit_manager", "creditors": ["ACME"]},
              "users.acme": {"role": "client", "creditors": ["ACME"], "email": "dg@acme.fr"}}
    workspace = web_workspace(root, f"http://127.0.0.1:{port}", tables=people)
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)

    code, out, err = run_cli(capsys, "-w", str(root), "--user", "claire", "portal-link", "sofia")
    assert code == 0, err
    assert "sofia" in out
    link = LINK.search(out)
    assert link is not None, out
    # Refused: a sales rep (no command line), an unknown name, and a credit manager
    # limited to ACME for a person who sees every creditor (but not for ACME's client).
    for user, name in (("sofia", "sofia"), ("claire", "nobody"), ("acme_manager", "claire")):
        code, out, err = run_cli(capsys, "-w", str(root), "--user", user, "portal-link", name)
        assert code == 2, (user, name, out, err)
        assert "/portal/sign-in/" not in out
    code, out, err = run_cli(capsys, "-w", str(root), "--user", "acme_manager",
                             "portal-link", "acme")
    assert code == 0, err

    store = open_store(workspace.database_url())
    try:
        app = create_app(workspace, store=store, today=lambda: TODAY)
        with ServerThread(app, port), httpx.Client(follow_redirects=False, timeout=20) as client:
            signed_in = _confirm(client, link.group(1))
            assert signed_in.status_code == 303
            assert "relance-portal=" in signed_in.headers["set-cookie"]
            assert _confirm(client, link.group(1)).status_code == 404
    finally:
        store.dispose()
