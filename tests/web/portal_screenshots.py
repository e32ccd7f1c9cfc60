"""The portal's screenshots of docs/web.md, from the real server and Chromium:

    .venv/bin/python -m tests.web.portal_screenshots [OUTPUT_FOLDER]

docs/img/portal-dashboard.png (a credit manager's dashboard, 1280 wide) and
docs/img/portal-sales-rep.png (a sales rep's late invoices), over the tests' book with a
year of history (tests/web/portal_book.py), on a SQLite file in a temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from relance.store.db import open_store
from tests.web.conftest import chromium_path
from tests.web.portal_book import cookie_for, history_book, portal_pages_book, portal_server

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOTS = (("claire", "/portal/", "portal-dashboard.png"),
         ("sofia", "/portal/", "portal-sales-rep.png"))


def take(output: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    output.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
        try:
            portal_pages_book(store)
            history_book(store)
            with portal_server(store, root / "workspace") as server, \
                    sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(chromium_path()), headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                for user, path, name in SHOTS:
                    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                                  locale="fr-FR")
                    cookie = cookie_for(server, store, user)
                    context.add_cookies([{"name": cookie["name"], "value": cookie["value"],
                                          "url": server.base_url}])
                    page = context.new_page()
                    page.goto(server.base_url + path)
                    target = output / name
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                    context.close()
                browser.close()
        finally:
            store.dispose()
    return written


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_IMG
    for path in take(output):
        print(path)


if __name__ == "__main__":
    main()
