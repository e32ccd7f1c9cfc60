"""E-mail: messages built only through the e-mail library, sent over reused connections.

Header safety: every value bound for a header (names, addresses, subject) is refused if
it holds a control character, U+2028/U+2029/U+0085 or the encoded-word opener `=?`.
Python 3.11.7 (this project's floor) folds an encoded word holding a newline into a real
header (CVE-2024-6923); refusing these values keeps debtor data out of header syntax.

Sending: a bounded number of SMTP connections, each reused for many messages. Each
message is one MAIL/RCPT/DATA exchange and its outcome is classified:

- delivered: the server answered 250 to the end of data;
- temporary (retry later): a 4xx reply, a refused connection, a timeout or a dropped
  connection *before* the data was sent;
- permanent (failed): a 5xx reply, with the server's words;
- in doubt (uncertain): the connection broke during DATA, when the server may already
  have accepted the message (RFC 1047). It is never resent automatically.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

import aiosmtplib

from relance.channels.config import SmtpConfig
from relance.errors import RelanceError

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]|=\?")
_ADDR_RE = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


class HeaderRefused(RelanceError):
    """A value bound for an e-mail header is unsafe; the action cannot be sent as is."""


def check_header_value(value: str, what: str) -> str:
    """`value` unchanged if safe for a header, else HeaderRefused naming `what`."""
    match = _FORBIDDEN.search(value)
    if match:
        found = match.group(0)
        shown = "=?" if found == "=?" else f"U+{ord(found):04X}"
        raise HeaderRefused(f"{what} contains {shown}, which is not allowed in an e-mail "
                            f"header: {value[:60]!r}")
    return value


def check_address(addr: str, what: str) -> Address:
    check_header_value(addr, what)
    addr = addr.strip()
    if not _ADDR_RE.match(addr):
        raise HeaderRefused(f"{what} is not a valid e-mail address: {addr!r}")
    local, _, domain = addr.rpartition("@")
    return Address(username=local, domain=domain)


def mailbox(name: str | None, addr: str, what: str) -> Address:
    base = check_address(addr, f"{what} address")
    display = check_header_value(" ".join((name or "").split(" ")), f"{what} name")
    return Address(display_name=display, username=base.username, domain=base.domain)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def message_id(key: str, domain: str) -> str:
    """A Message-ID stable for one action: receivers and tests can spot a duplicate."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    check_header_value(domain, "Message-ID domain")
    return f"<{digest}@{domain}>"


def build_message(
    *,
    sender: Address,
    to: Address,
    subject: str,
    text: str,
    html: str | None,
    reply_to: Address | None = None,
    attachments: Sequence[Attachment] = (),
    msg_id: str,
    date: object | None = None,
) -> EmailMessage:
    """A MIME message: plain text with an HTML alternative, then the attachments."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = check_header_value(" ".join(subject.split(" ")), "subject")
    message["Message-ID"] = msg_id
    if date is not None:
        import datetime as dt

        assert isinstance(date, dt.datetime)
        message["Date"] = format_datetime(date)
    message.set_content(text, subtype="plain", charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments:
        check_header_value(item.filename, "attachment name")
        message.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype,
                               filename=item.filename)
    return message


def write_eml(message: EmailMessage, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(message.as_bytes(policy=email.policy.SMTP))
    tmp.replace(out)
    return out


Outcome = Literal["sent", "retry", "failed", "uncertain"]


@dataclass(frozen=True)
class SendResult:
    key: int
    outcome: Outcome
    detail: str = ""


@dataclass
class Outgoing:
    key: int
    message: EmailMessage
    envelope_from: str
    recipients: list[str] = field(default_factory=list)


def _reply_text(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    # Certificates and host names are always checked: no silent fallback to plain text.
    context = ssl.create_default_context(cafile=config.ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client(config: SmtpConfig) -> aiosmtplib.SMTP:
    if config.security == "ssl":
        return aiosmtplib.SMTP(hostname=config.host, port=config.port, timeout=config.timeout,
                               use_tls=True, tls_context=_tls_context(config))
    if config.security == "starttls":
        return aiosmtplib.SMTP(hostname=config.host, port=config.port, timeout=config.timeout,
                               use_tls=False, start_tls=True, tls_context=_tls_context(config))
    return aiosmtplib.SMTP(hostname=config.host, port=config.port, timeout=config.timeout,
                           use_tls=False, start_tls=False)


async def _connect(config: SmtpConfig) -> aiosmtplib.SMTP:
    client = _client(config)
    await client.connect()
    if config.username:
        await client.login(config.username, config.password or "")
    return client


async def _send_one(client: aiosmtplib.SMTP, item: Outgoing) -> SendResult:
    """One MAIL/RCPT/DATA exchange on an open connection."""
    try:
        await client.mail(item.envelope_from)
        for rcpt in item.recipients:
            await client.rcpt(rcpt)
    except aiosmtplib.SMTPResponseException as exc:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.rset()
        outcome: Outcome = "failed" if exc.code >= 500 else "retry"
        return SendResult(item.key, outcome, _reply_text(exc))
    try:
        await client.data(item.message.as_bytes(policy=email.policy.SMTP))
    except aiosmtplib.SMTPResponseException as exc:
        # The server answered: a definite no.
        outcome = "failed" if exc.code >= 500 else "retry"
        return SendResult(item.key, outcome, _reply_text(exc))
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return SendResult(item.key, "uncertain",
                          f"connection lost during DATA ({exc.__class__.__name__}: {exc})")
    return SendResult(item.key, "sent", "250")


async def _worker(
    config: SmtpConfig,
    queue: asyncio.Queue[Outgoing | None],
    report: Callable[[SendResult], Awaitable[None] | None],
    should_stop: Callable[[], bool],
    before_send: Callable[[int], bool],
) -> None:
    client: aiosmtplib.SMTP | None = None
    sent_on_connection = 0
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if should_stop():
                # Not started: hand it back as a retry so it is not left in flight.
                await _report(report, SendResult(item.key, "retry", "dispatcher stopping"))
                continue
            if client is None or not client.is_connected or (
                sent_on_connection >= config.messages_per_connection
            ):
                if client is not None and client.is_connected:
                    await _quit(client)
                client = None
                try:
                    client = await _connect(config)
                    sent_on_connection = 0
                except aiosmtplib.SMTPResponseException as exc:
                    outcome: Outcome = "failed" if exc.code >= 500 and exc.code != 554 else "retry"
                    if exc.code in (530, 534, 535):  # authentication: an operator must act
                        outcome = "failed"
                    await _report(report, SendResult(item.key, outcome, _reply_text(exc)))
                    continue
                except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
                    await _report(report, SendResult(
                        item.key, "retry",
                        f"cannot connect to {config.host}:{config.port} "
                        f"({exc.__class__.__name__}: {exc})"))
                    continue
            # Recorded (committed) before the first byte of this message goes out: an
            # action claimed but never started can be released safely after a crash.
            if not before_send(item.key):
                continue
            try:
                result = await _send_one(client, item)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                # MAIL/RCPT never reached the server's acceptance: safe to try again.
                result = SendResult(item.key, "retry", f"{exc.__class__.__name__}: {exc}")
                client = None
            if result.outcome == "uncertain":
                client = None
            sent_on_connection += 1
            await _report(report, result)
    finally:
        if client is not None and client.is_connected:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()


async def _report(report: Callable[[SendResult], Awaitable[None] | None],
                  result: SendResult) -> None:
    maybe = report(result)
    if maybe is not None:
        await maybe


async def send_all(
    config: SmtpConfig,
    items: Sequence[Outgoing],
    report: Callable[[SendResult], Awaitable[None] | None],
    should_stop: Callable[[], bool] = lambda: False,
    before_send: Callable[[int], bool] = lambda key: True,
) -> None:
    """Send `items` over at most `config.max_connections` reused connections; `report`
    is called once per item with its outcome, as soon as it is known; `before_send(key)`
    just before an item's exchange starts (False: skip it, it is no longer ours)."""
    queue: asyncio.Queue[Outgoing | None] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    workers = min(config.max_connections, max(1, len(items)))
    for _ in range(workers):
        queue.put_nowait(None)
    await asyncio.gather(*(_worker(config, queue, report, should_stop, before_send)
                           for _ in range(workers)))
