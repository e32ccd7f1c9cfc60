"""Who is on the portal: the person a session cookie names, their pages' language, and
their forms' CSRF tokens. The portal for the people inside (sales reps, client companies,
credit managers) lives under `/portal/`; signing in and out is `web.portal_sign_in`, the
pages `web.portal_pages`.

A page handler starts with `person = await insider_of(request)`: without a live session
it raises `SignInNeeded`, which the application answers with a redirect to the sign-in
page. Who the person is and what they may do comes from `[users]` at each request
(`engine.roles.Policy.person`), so a person removed from relance.toml is out at once.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from relance.engine.portal_sign_in import session_user
from relance.engine.roles import Actor, workspace_policy
from relance.kernel.errors import UsageError
from relance.kernel.i18n import choose_language
from relance.web.common import (
    CSRF_FIELD,
    PageRefused,
    Portal,
    csrf_for,
    gettext_for,
    portal_of,
)

SIGN_IN_PATH = "/portal/sign-in"
HOME_PATH = "/portal/"


def session_cookie_name(portal: Portal) -> str:
    """The cookie holding the session's token; `__Host-` over TLS, which browsers bind to
    the exact host, path `/`, and Secure."""
    return "__Host-relance-portal" if portal.secure else "relance-portal"


class SignInNeeded(Exception):
    """No live session: the application redirects to the sign-in page."""


@dataclass(frozen=True)
class Insider:
    """A signed-in person of the portal."""

    person: Actor
    session_token: str = field(repr=False)
    language: str
    secret: bytes = field(repr=False)

    @property
    def csrf(self) -> str:
        return csrf_for(self.secret, b"relance-insider-csrf", self.session_token)


def _person_of(portal: Portal, token: str, now: dt.datetime) -> Actor | None:
    with portal.store.session() as session:
        name = session_user(session, token, now)
        session.commit()
    if name is None:
        return None
    try:
        return workspace_policy(portal.workspace).person(name)
    except UsageError:
        return None  # no longer in [users]


def portal_language(portal: Portal) -> str:
    """The workspace's `[ui] language`, else French (a server has no user's LANG)."""
    return choose_language(portal.workspace.settings.ui.language, {})


async def insider_of(request: Request) -> Insider:
    """The signed-in person making `request`; `SignInNeeded` when there is none, the
    neutral 404 when the workspace lists no people (it has no portal)."""
    portal = portal_of(request)
    if workspace_policy(portal.workspace).open:
        raise PageRefused(404)  # no [users]: no portal
    token = request.cookies.get(session_cookie_name(portal), "")
    if not token:
        raise SignInNeeded()
    person = await run_in_threadpool(_person_of, portal, token, portal.now())
    if person is None:
        raise SignInNeeded()
    return Insider(person=person, session_token=token, language=portal_language(portal),
                   secret=portal.keys.secret)


def check_insider_csrf(insider: Insider, form: Mapping[str, Any]) -> None:
    """Refuse (403 page) a form whose `csrf` field is not this session's."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, insider.csrf):
        raise PageRefused(403)


def render_insider(request: Request, insider: Insider, template_name: str,
                   context: Mapping[str, Any], status: int = 200) -> Response:
    """A portal page in the workspace's language. Templates get `_`, `ngettext`,
    `language`, `person`, `csrf_field` and `csrf` besides `context`."""
    portal = portal_of(request)
    gettext, ngettext = gettext_for(insider.language)
    values: dict[str, Any] = {
        "_": gettext, "ngettext": ngettext, "language": insider.language,
        "person": insider.person, "csrf_field": CSRF_FIELD, "csrf": insider.csrf, **context,
    }
    body = portal.environment.get_template(template_name).render(values)
    return HTMLResponse(body, status_code=status)


async def sign_in_needed(request: Request, exc: Exception) -> Response:
    """The application's answer to `SignInNeeded`: to the sign-in page."""
    return RedirectResponse(SIGN_IN_PATH, status_code=303)
