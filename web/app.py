"""The ASGI application of the web side, the debtors' pages and the portal of the people
inside: `create_app(workspace)`.

Security is the application's, not each page's: every answer carries a strict
Content-Security-Policy (no inline script, nothing from another origin), refuses to be
framed, sends no Referer (the token is in the address), is not cached; anything wrong,
including a crash, answers a neutral page without a detail (`web.common.PageRefused`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relance.engine.portal_links import LinkKeys, link_keys
from relance.kernel.errors import ConfigError
from relance.kernel.i18n import _
from relance.kernel.workspace import Workspace
from relance.store.db import Store, open_store
from relance.web import debtor_actions, debtor_page, portal_pages, portal_sign_in
from relance.web.common import STATIC_DIR, LookupLimiter, PageRefused, Portal, refusal_page
from relance.web.portal_people import SignInNeeded, sign_in_needed

log = logging.getLogger("relance.web")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
# A year, the usual value once TLS is in place for good.
HSTS = b"max-age=31536000"


class SecurityHeaders:
    """Adds the security headers to every answer; pages (not the style sheet) are never
    cached, by the browser or by a proxy."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() not in (b"server",)]
                headers.extend(SECURITY_HEADERS)
                if self.https:
                    headers.append((b"strict-transport-security", HSTS))
                if not static:
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                message["headers"] = headers
            await send(message)

        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await with_headers(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            # Outside Starlette's own handlers: the visitor gets the neutral page, with
            # these headers too, and the operator the log line.
            log.error("web: %s while serving a page", exc.__class__.__name__, exc_info=exc)
            if started:
                raise
            await refusal_page(Request(scope), 500)(scope, receive, with_headers)


async def _refused(request: Request, exc: Exception) -> Response:
    return refusal_page(request, exc.status if isinstance(exc, PageRefused) else 404)


async def _http_error(request: Request, exc: Exception) -> Response:
    # A missing route, a wrong method, a malformed body: all the same neutral 404.
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return refusal_page(request, 429 if status == 429 else 404)


# Threads a server process reads and writes the store in (the pages' work is run there,
# off the event loop). Starlette's default is 40: under a crowd (200 first views a
# second on 2 cores, bench/web_bench.py) forty threads took turns at the interpreter's
# lock, each page waiting on the others' pieces, and on PostgreSQL the 99th percentile
# reached 1 to 4 s; with 2 it was 0.11 s, with as many pages a second.
READING_THREADS = 2


def create_app(workspace: Workspace, *, store: Store | None = None,
               keys: LinkKeys | None = None, today: Callable[[], dt.date] | None = None,
               limiter: LookupLimiter | None = None) -> Starlette:
    """The debtor's side over `workspace`: its store (opened here unless given) and its
    web secret (refused without one: `ConfigError`). `today` gives the day the page
    counts penalties to (default: the machine's date)."""
    keys = keys or link_keys(workspace)
    if keys is None:
        raise ConfigError(_("relance web needs the secret that signs the debtors' links: "
                            "set RELANCE_WEB_SECRET or [web] secret_file in {label}").format(
            label=workspace.config_label))
    owned = store is None
    opened = store if store is not None else open_store(workspace.database_url())
    portal = Portal(workspace=workspace, store=opened, keys=keys,
                    today=today or dt.date.today, limiter=limiter or LookupLimiter())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = READING_THREADS
        try:
            yield
        finally:
            if owned:
                opened.dispose()

    app = Starlette(
        debug=False,
        routes=[*debtor_page.routes(), *debtor_actions.routes(),
                *portal_sign_in.routes(), *portal_pages.routes(),
                Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")],
        exception_handlers={PageRefused: _refused, HTTPException: _http_error,
                            SignInNeeded: sign_in_needed},
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.add_middleware(SecurityHeaders, https=portal.secure)
    return app
