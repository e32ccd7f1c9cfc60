"""Signing in to the portal of the people inside, and out of it.

A person of the `[users]` table types their e-mail address at `/portal/sign-in`; when it
is one user's, a one-time link `/portal/sign-in/{token}` goes to the address relance.toml
gives them (`engine.portal_sign_in`). Whatever was typed, the answer is the same page,
sent before anything is looked up (the link is issued and e-mailed after the answer), so
neither its words nor its timing tell whether an address is known.

Following the link shows one "Sign in" button rather than signing in at once: mail
scanners fetch the links of a message, and would spend them. The button's POST spends
the token, opens a session and sets its cookie (HttpOnly, SameSite=Strict, Secure and
`__Host-` over TLS), then sends the person to `/portal/`.

The forms of a visitor not signed in carry a CSRF token bound to a random cookie of their
own (SameSite=Strict, so another site's form cannot send it): a page elsewhere cannot ask
links in someone's name, nor sign a visitor in as somebody else. Sign-out is a form of
the session (`Insider.csrf`). Link requests and links that open nothing are counted by
the visitor's address, link requests also by the address typed (`Portal.sign_in_by_*`):
beyond, the neutral 429 page. A workspace without `[users]` has no portal: 404.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from relance.channels import mail
from relance.channels.config import SmtpConfig, sender_address, smtp_config
from relance.channels.smtp import Outgoing, SendResult, send_all
from relance.engine.portal_sign_in import (
    SESSION_HOURS,
    SIGN_IN_MINUTES,
    end_session,
    issue_sign_in,
    open_session,
    redeem_sign_in,
    token_hash,
)
from relance.engine.roles import Actor, workspace_policy
from relance.kernel.errors import ConfigError, UsageError
from relance.kernel.i18n import N_
from relance.web.common import (
    CSRF_FIELD,
    PageRefused,
    Portal,
    client_address,
    gettext_for,
    portal_of,
)
from relance.web.portal_people import (
    HOME_PATH,
    SIGN_IN_PATH,
    check_insider_csrf,
    insider_of,
    portal_language,
    session_cookie_name,
)

log = logging.getLogger("relance.web")

SIGN_OUT_PATH = "/portal/sign-out"
EMAIL_FIELD = "email"
# Longer than any real address (RFC 5321 caps a path at 256): refused unread.
EMAIL_MAX = 320
TOKEN_MAX = 200
# The visitor's own random value, which the anonymous forms' CSRF tokens are bound to.
FORM_COOKIE_HOURS = 12

MAIL_SUBJECT = N_("Your sign-in link to the portal")
MAIL_TEXT = N_("Hello {name},\n\n"
               "Here is your link to sign in to the portal. It works once, within "
               "{minutes} minutes:\n\n{link}\n\n"
               "If you did not ask for it, ignore this message: without the link, "
               "nobody can sign in in your name.\n")
MAIL_SENDER_NAME = N_("The portal")


@dataclass(frozen=True)
class MailSetup:
    """What e-mailing sign-in links needs: the SMTP server, a sender address and the
    portal's public address (never the Host a visitor sends, which could be forged)."""

    smtp: SmtpConfig = field(repr=False)
    sender: str
    base_url: str


def mail_setup(portal: Portal) -> MailSetup | None:
    """The e-mail set-up of the workspace, or None when sign-in by e-mail cannot work:
    no `[smtp] host`, no `[smtp] from`, or no `[web] base_url`."""
    base_url = portal.keys.base_url
    try:
        smtp = smtp_config(portal.workspace)
        sender = sender_address(portal.workspace)
    except ConfigError as exc:
        log.warning("portal sign-in: the [smtp] settings are refused (%s)", exc)
        return None
    if smtp is None or sender is None or not base_url:
        return None
    return MailSetup(smtp=smtp, sender=sender, base_url=base_url.rstrip("/"))


def sign_in_url(base_url: str, token: str) -> str:
    """The address a sign-in link's token opens."""
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}/{token}"


def _with_people(request: Request) -> Portal:
    """The portal, when the workspace lists people; the neutral 404 otherwise."""
    portal = portal_of(request)
    if workspace_policy(portal.workspace).open:
        raise PageRefused(404)
    return portal


# -- the anonymous forms' CSRF tokens -------------------------------------------------


def form_cookie_name(portal: Portal) -> str:
    return "__Host-relance-portal-form" if portal.secure else "relance-portal-form"


def _form_cookie(request: Request, portal: Portal) -> tuple[str, bool]:
    """The visitor's form cookie, and whether it is new (to be set by the answer)."""
    value = request.cookies.get(form_cookie_name(portal), "")
    if 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(32), True


def form_csrf(portal: Portal, cookie: str, purpose: str) -> str:
    """The token a form for `purpose` sends back, for a visitor with `cookie`."""
    message = b"relance-sign-in-form\0" + purpose.encode() + b"\0" + cookie.encode()
    return hmac.new(portal.keys.secret, message, hashlib.sha256).hexdigest()


def _check_form(request: Request, portal: Portal, form: Mapping[str, Any],
                purpose: str) -> None:
    """Refuse (403 page) a form without this visitor's cookie or with a wrong token."""
    cookie = request.cookies.get(form_cookie_name(portal), "")
    sent = form.get(CSRF_FIELD)
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(
            sent, form_csrf(portal, cookie, purpose)):
        raise PageRefused(403)


def _anonymous_page(request: Request, portal: Portal, template_name: str,
                    context: Mapping[str, Any], purpose: str) -> Response:
    """A page of the sign-in, in the workspace's language, whose form (if any) carries
    the token for `purpose`."""
    language = portal_language(portal)
    gettext, ngettext = gettext_for(language)
    cookie, new = _form_cookie(request, portal)
    values: dict[str, Any] = {
        "_": gettext, "ngettext": ngettext, "language": language, "person": None,
        "csrf_field": CSRF_FIELD, "csrf": form_csrf(portal, cookie, purpose), **context,
    }
    response = HTMLResponse(portal.environment.get_template(template_name).render(values))
    if new:
        response.set_cookie(form_cookie_name(portal), cookie,
                            max_age=FORM_COOKIE_HOURS * 3600, path="/",
                            secure=portal.secure, httponly=True, samesite="strict")
    return response


# -- asking for a link ------------------------------------------------------------------

ASK_PURPOSE = "ask"


async def sign_in_page(request: Request) -> Response:
    portal = _with_people(request)
    return _anonymous_page(request, portal, "portal_sign_in.html",
                           {"mail_ready": mail_setup(portal) is not None,
                            "email_field": EMAIL_FIELD, "email": "", "missing": False},
                           ASK_PURPOSE)


async def ask_link(request: Request) -> Response:
    portal = _with_people(request)
    visitor = client_address(request)
    if not portal.sign_in_by_client.allows(visitor):
        raise PageRefused(429)
    form = await request.form()
    _check_form(request, portal, form, ASK_PURPOSE)
    setup = mail_setup(portal)
    typed = form.get(EMAIL_FIELD)
    address = typed.strip() if isinstance(typed, str) and len(typed) <= EMAIL_MAX else ""
    if setup is None or "@" not in address:
        return _anonymous_page(request, portal, "portal_sign_in.html",
                               {"mail_ready": setup is not None, "email_field": EMAIL_FIELD,
                                "email": address, "missing": setup is not None},
                               ASK_PURPOSE)
    wanted = address.casefold()
    if not portal.sign_in_by_address.allows(wanted):
        raise PageRefused(429)
    portal.sign_in_by_client.spend(visitor, failed=False)
    portal.sign_in_by_address.spend(wanted, failed=False)
    response = _anonymous_page(request, portal, "portal_sign_in_sent.html",
                               {"email": address, "minutes": SIGN_IN_MINUTES}, ASK_PURPOSE)
    # After the answer has gone: the same page, at the same speed, for any address.
    response.background = BackgroundTask(send_link, portal, setup, address)
    return response


def _issue(portal: Portal, name: str) -> str:
    with portal.store.session() as session:
        token = issue_sign_in(session, name, portal.now())
        session.commit()
    return token


def link_message(portal: Portal, setup: MailSetup, person: Actor, token: str) -> bytes:
    """The e-mail carrying a sign-in link, in the workspace's language."""
    assert person.email is not None
    gettext, _n = gettext_for(portal_language(portal))
    domain = setup.sender.rpartition("@")[2]
    message = mail.build_message(
        sender=mail.mailbox(gettext(MAIL_SENDER_NAME), setup.sender, "portal sender"),
        to=mail.mailbox(None, person.email, "portal user"),
        subject=gettext(MAIL_SUBJECT),
        text=gettext(MAIL_TEXT).format(name=person.name, minutes=SIGN_IN_MINUTES,
                                       link=sign_in_url(setup.base_url, token)),
        html=None,
        msg_id=mail.message_id(f"portal-sign-in:{token_hash(token)}", domain),
        date=portal.now())
    return mail.message_bytes(message)


async def send_link(portal: Portal, setup: MailSetup, address: str) -> None:
    """Issue a link to the user whose e-mail is `address`, if any, and e-mail it to the
    address relance.toml gives them. Runs after the answer: failures go to the log."""
    try:
        person = workspace_policy(portal.workspace).by_email(address)
        if person is None or person.email is None:
            return
        token = await run_in_threadpool(_issue, portal, person.name)
        data = link_message(portal, setup, person, token)
        results: list[SendResult] = []
        await send_all(setup.smtp, [Outgoing(0, data, setup.sender, [person.email])],
                       results.append)
        outcome = results[0] if results else None
        if outcome is None or outcome.outcome != "sent":
            log.warning("portal sign-in: the link for %s was not sent (%s)", person.name,
                        outcome.detail if outcome else "no outcome")
    except (UsageError, ConfigError, mail.HeaderRefused, OSError) as exc:
        log.warning("portal sign-in: no link sent (%s)", exc)
    except Exception as exc:  # after the answer: nothing else may hear of it
        log.error("portal sign-in: %s while sending a link", exc.__class__.__name__,
                  exc_info=exc)


# -- following a link ---------------------------------------------------------------------


def _confirm_purpose(token: str) -> str:
    return "confirm\0" + token


def _token_of(request: Request) -> str:
    token = str(request.path_params.get("token", ""))
    if not token or len(token) > TOKEN_MAX:
        raise PageRefused(404)
    return token


async def confirm_page(request: Request) -> Response:
    """The page a link opens: one button, so that a mail scanner's fetch spends nothing."""
    portal = _with_people(request)
    token = _token_of(request)
    return _anonymous_page(request, portal, "portal_sign_in_confirm.html",
                           {"action": f"{SIGN_IN_PATH}/{token}"}, _confirm_purpose(token))


def _redeem(portal: Portal, token: str) -> str | None:
    """The new session's token, when `token` is a live link of a person still listed."""
    now = portal.now()
    with portal.store.session() as session:
        name = redeem_sign_in(session, token, now)
        if name is None:
            return None
        try:
            workspace_policy(portal.workspace).person(name)
        except UsageError:
            session.commit()  # the link is spent all the same
            return None
        opened = open_session(session, name, now)
        session.commit()
    return opened


async def redeem(request: Request) -> Response:
    portal = _with_people(request)
    visitor = client_address(request)
    if not portal.sign_in_by_client.allows(visitor):
        raise PageRefused(429)
    token = _token_of(request)
    form = await request.form()
    _check_form(request, portal, form, _confirm_purpose(token))
    opened = await run_in_threadpool(_redeem, portal, token)
    portal.sign_in_by_client.spend(visitor, failed=opened is None)
    if opened is None:
        raise PageRefused(404)
    response = RedirectResponse(HOME_PATH, status_code=303)
    response.set_cookie(session_cookie_name(portal), opened, max_age=SESSION_HOURS * 3600,
                        path="/", secure=portal.secure, httponly=True, samesite="strict")
    return response


# -- signing out ------------------------------------------------------------------------


def _end(portal: Portal, token: str) -> None:
    with portal.store.session() as session:
        end_session(session, token, portal.now())
        session.commit()


async def sign_out(request: Request) -> Response:
    portal = _with_people(request)
    insider = await insider_of(request)
    form = await request.form()
    check_insider_csrf(insider, form)
    await run_in_threadpool(_end, portal, insider.session_token)
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(session_cookie_name(portal), path="/", secure=portal.secure,
                           httponly=True, samesite="strict")
    return response


def routes() -> list[BaseRoute]:
    return [
        Route(SIGN_IN_PATH, sign_in_page, methods=["GET"]),
        Route(SIGN_IN_PATH, ask_link, methods=["POST"]),
        Route(SIGN_IN_PATH + "/{token}", confirm_page, methods=["GET"]),
        Route(SIGN_IN_PATH + "/{token}", redeem, methods=["POST"]),
        Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
    ]
