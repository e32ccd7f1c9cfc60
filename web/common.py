"""What every page of the debtor's side shares: the visit a token opens, rendering in the
debtor's language and the creditor's branding, the forms' CSRF tokens, the refusals.

The URL scheme: the page is `/d/{token}`, its actions are under `/d/{token}/...`; the
token is the only thing in the address (no sequential id). Anything wrong (a forged,
unknown, expired or revoked token, another debtor's letter, a missing page) answers the
same neutral 404 page (`PageRefused`), so a visitor learns nothing by trying.

The store is synchronous (SQLAlchemy): handlers call it through
`starlette.concurrency.run_in_threadpool`, never on the event loop. A page reads what it
shows in the same thread hop and session as the link (`visit_with`): one query opens the
link with its debtor and creditor.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from relance.engine.portal_links import LinkKeys, LinkProblem, resolve
from relance.kernel.i18n import N_, supported, translations
from relance.kernel.workspace import Workspace
from relance.store.db import Store
from relance.store.models import Creditor, Debtor, PortalLink
from relance.web.visit_log import VisitLog

T = TypeVar("T")

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
CSRF_FIELD = "csrf"
# A logo larger than this is left out rather than inlined in every page.
LOGO_MAX_BYTES = 256 * 1024
_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".svg": "image/svg+xml", ".gif": "image/gif", ".webp": "image/webp"}

# The words of the refusal pages: said in both languages, since a refused visitor has no
# known language.
NOT_FOUND_TITLE = N_("This link does not open a page")
NOT_FOUND_TEXT = N_("The link may be mistyped, expired or withdrawn. Please use the link of "
                    "your latest message, or contact the sender of the message.")
TOO_MANY_TITLE = N_("Too many attempts")
TOO_MANY_TEXT = N_("Please wait a minute before trying again.")
FORBIDDEN_TITLE = N_("This form has expired")
FORBIDDEN_TEXT = N_("Please open your link again and send the form anew.")
ERROR_TITLE = N_("The page is not available right now")
ERROR_TEXT = N_("Please try again in a few minutes.")
_REFUSALS: Mapping[int, tuple[str, str]] = {
    403: (FORBIDDEN_TITLE, FORBIDDEN_TEXT),
    404: (NOT_FOUND_TITLE, NOT_FOUND_TEXT),
    429: (TOO_MANY_TITLE, TOO_MANY_TEXT),
    500: (ERROR_TITLE, ERROR_TEXT),
}


class PageRefused(Exception):
    """Answer the neutral page of `status` (404 unless said): raised anywhere in a
    handler, rendered by the application's handler, never with a detail."""

    def __init__(self, status: int = 404) -> None:
        super().__init__(status)
        self.status = status if status in _REFUSALS else 404


@dataclass(frozen=True)
class Brand:
    """The creditor as the page shows it."""

    name: str
    logo_data_uri: str | None


class LookupLimiter:
    """Per-address token buckets on link lookups: `capacity` lookups at once, refilled
    at `per_second`; a lookup that opens nothing costs `failure_cost`, so guessing
    tokens is slowed far below reading one's own page."""

    def __init__(self, capacity: float = 60.0, per_second: float = 1.0,
                 failure_cost: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.failure_cost = failure_cost
        self._clock = clock  # seconds; a test may hold it still
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, address: str, now: float) -> float:
        level, since = self._buckets.get(address, (self.capacity, now))
        return min(self.capacity, level + (now - since) * self.per_second)

    def allows(self, address: str) -> bool:
        with self._lock:
            return self._level(address, self._clock()) >= 1.0

    def spend(self, address: str, failed: bool) -> None:
        with self._lock:
            now = self._clock()
            cost = self.failure_cost if failed else 1.0
            self._buckets[address] = (self._level(address, now) - cost, now)
            if len(self._buckets) > 100_000:  # forget the full buckets of past visitors
                self._buckets = {key: value for key, value in self._buckets.items()
                                 if self._level(key, now) < self.capacity}


@dataclass
class Portal:
    """The application's state (`request.app.state.portal`)."""

    workspace: Workspace
    store: Store
    keys: LinkKeys
    today: Callable[[], dt.date]
    limiter: LookupLimiter = field(default_factory=LookupLimiter)
    # The portal's clock (sign-in links and sessions expire by it); tests move it.
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    # Sign-in attempts: by the visitor's address (link requests, and links that open
    # nothing, which cost more), and by the e-mail address asked for, so that nobody is
    # flooded with links: a few at once, then one every few minutes.
    sign_in_by_client: LookupLimiter = field(default_factory=lambda: LookupLimiter(
        capacity=20.0, per_second=1 / 30, failure_cost=5.0))
    sign_in_by_address: LookupLimiter = field(default_factory=lambda: LookupLimiter(
        capacity=3.0, per_second=1 / 300))
    environment: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True, lstrip_blocks=True))

    visits: VisitLog = field(init=False)

    def __post_init__(self) -> None:
        self.visits = VisitLog(self.store)

    @property
    def secure(self) -> bool:
        """Whether debtors reach the page over TLS (cookies and HSTS follow)."""
        return (self.keys.base_url or "").startswith("https://")


@dataclass(frozen=True)
class Visit:
    """A debtor on their page, through one valid link."""

    link_id: int
    token: str
    debtor_id: int
    creditor_id: int
    language: str
    today: dt.date
    workspace: Workspace
    store: Store
    brand: Brand
    # The web secret, for the CSRF tokens; kept out of any printed form of the visit.
    secret: bytes = field(repr=False)

    @property
    def page_path(self) -> str:
        """The page's own address (without the host): `/d/{token}`."""
        return f"/d/{self.token}"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def client_address(request: Request) -> str:
    """The visitor's address (the proxy's `X-Forwarded-For`, when uvicorn trusts it)."""
    return request.client.host if request.client is not None else "unknown"


# The logos already encoded, by file and version: a page inlines its creditor's logo
# without reading and encoding the file again at every view.
_LOGOS: dict[tuple[Path, int, int], str] = {}
_LOGOS_MAX = 64


@functools.lru_cache(maxsize=_LOGOS_MAX)
def _logo_file(root: Path, logo_path: str) -> tuple[Path, str] | None:
    """The logo's real path and type; None when it is not an image inside the workspace
    (a creditor's record must not reach /etc)."""
    base = root.resolve()
    path = Path(logo_path)
    path = (path if path.is_absolute() else base / path).resolve()
    kind = _LOGO_TYPES.get(path.suffix.lower())
    if kind is None or not path.is_relative_to(base):
        return None
    return path, kind


def _logo(creditor: Creditor, root: Path) -> str | None:
    if not creditor.logo_path:
        return None
    found = _logo_file(root, creditor.logo_path)
    if found is None:
        return None
    path, kind = found
    try:
        info = path.stat()
    except OSError:
        return None
    if not path.is_file() or info.st_size > LOGO_MAX_BYTES:
        return None
    key = (path, info.st_mtime_ns, info.st_size)
    encoded = _LOGOS.get(key)
    if encoded is None:
        encoded = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
        if len(_LOGOS) >= _LOGOS_MAX:
            _LOGOS.clear()
        _LOGOS[key] = encoded
    return encoded


@dataclass(frozen=True)
class Opened:
    """What a link opened, as its one query read it (for the page's own reading, in the
    same session; never changed)."""

    link: PortalLink
    debtor: Debtor
    creditor: Creditor


def _open(portal: Portal, token: str,
          read: Callable[[Session, Visit, Opened], T]) -> tuple[Visit, T] | LinkProblem:
    with portal.store.session() as session:
        found = resolve(session, portal.keys.secret, token)
        link, debtor, creditor = found.link, found.debtor, found.creditor
        if link is None or debtor is None or creditor is None:
            return found.problem or LinkProblem.UNKNOWN
        visit = Visit(link_id=link.id, token=token, debtor_id=debtor.id,
                      creditor_id=creditor.id,
                      language=supported(debtor.language) or "fr", today=portal.today(),
                      workspace=portal.workspace, store=portal.store,
                      brand=Brand(name=creditor.name,
                                  logo_data_uri=_logo(creditor, portal.workspace.root)),
                      secret=portal.keys.secret)
        return visit, read(session, visit, Opened(link, debtor, creditor))


def _nothing_more(_session: Session, _visit: Visit, _opened: Opened) -> None:
    return None


async def visit_with(request: Request,
                     read: Callable[[Session, Visit, Opened], T]) -> tuple[Visit, T]:
    """The visit `request.path_params["token"]` opens and what `read` makes of it, read
    in the same session and thread hop as the link; the neutral 404 (`PageRefused`) for
    any token that opens nothing, 429 when this address tried too often."""
    portal = portal_of(request)
    address = client_address(request)
    if not portal.limiter.allows(address):
        raise PageRefused(429)
    token = str(request.path_params.get("token", ""))
    opened = await run_in_threadpool(_open, portal, token, read)
    portal.limiter.spend(address, failed=not isinstance(opened, tuple))
    if not isinstance(opened, tuple):
        raise PageRefused(404)
    return opened


async def visit_of(request: Request) -> Visit:
    """The visit `request.path_params["token"]` opens (see `visit_with`)."""
    visit, _nothing = await visit_with(request, _nothing_more)
    return visit


class _Sayings:
    """One language's `gettext` and `ngettext`, remembering each answer: the chained
    catalogs try every domain in turn, and a page asks for the same sentences at every
    view."""

    # The sentences of the pages are a few hundred; a bound keeps a flood of distinct
    # plural counts from growing the memory.
    MAX_REMEMBERED = 4096

    def __init__(self, language: str) -> None:
        self.chain = translations(language)
        self.said: dict[str, str] = {}
        self.plurals: dict[tuple[str, str, int], str] = {}

    def gettext(self, message: str) -> str:
        said = self.said.get(message)
        if said is None:
            said = self.chain.gettext(message)
            if len(self.said) < self.MAX_REMEMBERED:
                self.said[message] = said
        return said

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        key = (singular, plural, count)
        said = self.plurals.get(key)
        if said is None:
            said = self.chain.ngettext(singular, plural, count)
            if len(self.plurals) < self.MAX_REMEMBERED:
                self.plurals[key] = said
        return said


_SAYINGS: dict[str, _Sayings] = {}


def gettext_for(language: str) -> tuple[Callable[[str], str], Callable[[str, str, int], str]]:
    """`_` and `ngettext` in `language`, without touching the process's language (two
    debtors in two languages are served at the same time)."""
    chosen = supported(language) or "fr"
    sayings = _SAYINGS.get(chosen)
    if sayings is None:
        sayings = _SAYINGS.setdefault(chosen, _Sayings(chosen))
    return sayings.gettext, sayings.ngettext


def render(request: Request, visit: Visit, template_name: str, context: Mapping[str, Any],
           status: int = 200) -> Response:
    """`web/templates/<template_name>` in the debtor's language and the creditor's
    branding. Every template gets `_`, `ngettext`, `language`, `brand`, `page_path`,
    `csrf_field` and `csrf` (the token a form must send back) besides `context`."""
    portal = portal_of(request)
    gettext, ngettext = gettext_for(visit.language)
    values: dict[str, Any] = {
        "_": gettext, "ngettext": ngettext, "language": visit.language,
        "brand": visit.brand, "page_path": visit.page_path,
        "csrf_field": CSRF_FIELD, "csrf": csrf_token(visit), **context,
    }
    body = portal.environment.get_template(template_name).render(values)
    return HTMLResponse(body, status_code=status)


def refusal_page(request: Request, status: int) -> Response:
    """The neutral page of `status` (403, 404, 429, 500), in French and English."""
    # Read from the scope: a crash may come before Starlette set `request.app`.
    app = request.scope.get("app")
    portal: Portal | None = getattr(getattr(app, "state", None), "portal", None)
    title, text = _REFUSALS.get(status, _REFUSALS[404])
    french = translations("fr").gettext
    values = {"status": status, "sayings": [("fr", french(title), french(text)),
                                            ("en", title, text)]}
    environment = portal.environment if portal is not None else Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    body = environment.get_template("refused.html").render(values)
    response = HTMLResponse(body, status_code=status)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


def csrf_for(secret: bytes, purpose: bytes, token: str) -> str:
    """The CSRF token of the forms sent under `token` (a link's, a session's): an HMAC
    under the web secret, `purpose` keeping a debtor's and a signed-in person's apart."""
    return hmac.new(secret, purpose + b"\0" + token.encode(), hashlib.sha256).hexdigest()


def csrf_token(visit: Visit) -> str:
    """The token every form of this visit sends back in the field `csrf`: an HMAC of the
    link's token under the web secret, so nothing is kept between requests."""
    return csrf_for(visit.secret, b"relance-portal-csrf", visit.token)


def check_csrf(visit: Visit, form: Mapping[str, Any]) -> None:
    """Refuse (403 page) a form whose `csrf` field is missing or not this visit's."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(visit)):
        raise PageRefused(403)
