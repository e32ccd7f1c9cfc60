"""The debtor's side for real: uvicorn serving `relance.web` on a free loopback port over
a real store (SQLite and PostgreSQL, through the `store` fixture), and Debian's Chromium
driven by Playwright.

`web_server` gives the base URL, the store, the workspace (with `[web] base_url` set to
the server, a secret file, a fixed day) and the link keys; `browser_page` a fresh page in
a headless Chromium (1280x900). The browser is `/usr/bin/chromium` and nothing else:
Playwright never downloads one. Without it the tests fail, saying how to install it
(`scripts/setup.sh`); they never skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from relance.engine.portal_links import LinkKeys, link_keys
from relance.kernel.workspace import Workspace, load_config
from relance.store.db import Store
from relance.web.app import create_app
from relance.web.common import LookupLimiter
from tests.channels.factory import TODAY, make_workspace

CHROMIUM = Path("/usr/bin/chromium")
SECRET_FILE = ".relance/web.secret"


@dataclass(frozen=True)
class WebServer:
    """A running `relance web` and what it serves."""

    base_url: str
    store: Store
    workspace: Workspace
    keys: LinkKeys
    today: dt.date


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def web_workspace(root: Path, base_url: str, extra: dict[str, Any] | None = None, *,
                  tables: dict[str, dict[str, Any]] | None = None) -> Workspace:
    """A workspace whose `relance.toml` sets `[web]` (the secret in an owner-only file),
    `extra` keys of `[web]`, and more `tables` by their TOML name (`"users.sofia": {"role":
    "sales_rep", "email": ...}`, `"smtp": {...}`)."""
    make_workspace(root)
    secret = root / SECRET_FILE
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("s3cr3t-for-the-web-tests-" + "x" * 40 + "\n")
    secret.chmod(0o600)
    lines = ["[dispatch]", "retry_base_seconds = 0", "", "[web]",
             f'base_url = "{base_url}"', f'secret_file = "{SECRET_FILE}"']
    for key, value in (extra or {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for name, table in (tables or {}).items():
        lines += ["", f"[{name}]", *(f"{key} = {json.dumps(value)}"
                                    for key, value in table.items())]
    config = root / "relance.toml"
    config.write_text("\n".join(lines) + "\n")
    return Workspace(root, load_config(config), config)


class ServerThread:
    """uvicorn in a thread of the test process, stopped at the end of the test."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
            lifespan="on", server_header=False, date_header=False))
        self.thread = threading.Thread(target=self.server.run, name="web-test", daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def running_server(store: Store, root: Path, *,
                   limiter: LookupLimiter | None = None,
                   tables: dict[str, dict[str, Any]] | None = None) -> Iterator[WebServer]:
    """`relance web` on a free loopback port over `store`, its workspace in `root`
    (with `tables` in its relance.toml, as `web_workspace` takes them). The tests'
    default limiter lets a test make many refused requests; the limiter's own test
    passes the real one."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workspace = web_workspace(root, base_url, tables=tables)
    keys = link_keys(workspace)
    assert keys is not None
    app = create_app(workspace, store=store, keys=keys, today=lambda: TODAY,
                     limiter=limiter or LookupLimiter(capacity=10_000, per_second=1_000))
    with ServerThread(app, port):
        yield WebServer(base_url, store, workspace, keys, TODAY)


@pytest.fixture
def web_server(store: Store, tmp_path: Path) -> Iterator[WebServer]:
    """`relance web` on a free loopback port over `store` (SQLite, then PostgreSQL)."""
    with running_server(store, tmp_path / "workspace") as server:
        yield server


def chromium_path() -> Path:
    """Debian's Chromium, or a failure that says how to install it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium: run "
                    "`sudo scripts/setup.sh` or `sudo apt-get install -y chromium`",
                    pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Playwright, never a downloaded one).

    Not per session: Playwright's synchronous API keeps an event loop running while it is
    open, and a later test of the same process that runs its own loop (`asyncio.run`, the
    desk's tests) would fail; it closes at the end of the module."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own cookies and storage) at desktop size, downloads accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True, locale="fr-FR")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
