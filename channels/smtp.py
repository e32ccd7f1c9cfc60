"""Sending e-mails over SMTP: a bounded number of connections, each reused for many
messages (built by `relance.channels.mail`). Each message is one MAIL/RCPT/DATA exchange
and its outcome is classified for the dispatch:

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
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from relance.channels.config import SmtpConfig
from relance.channels.mail import message_bytes
from relance.channels.reasons import Reason, reason, told
from relance.kernel.i18n import N_

Outcome = Literal["sent", "retry", "failed", "uncertain"]
# A send handed back unstarted because the dispatcher is stopping: released, not retried.
STOPPING_TEXT = "dispatcher stopping"


@dataclass(frozen=True)
class SendResult:
    key: int
    outcome: Outcome
    reason: Reason = field(default_factory=lambda: Reason("", ""))

    @property
    def detail(self) -> str:
        """What the record keeps: the server's reply, or relance's words in English."""
        return self.reason.english


@dataclass
class Outgoing:
    key: int
    message: EmailMessage
    envelope_from: str
    recipients: list[str] = field(default_factory=list)


def _reply_text(exc: aiosmtplib.SMTPResponseException) -> Reason:
    return told(f"{exc.code} {exc.message}".strip())


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
        await client.data(message_bytes(item.message))
    except aiosmtplib.SMTPResponseException as exc:
        # The server answered: a definite no.
        outcome = "failed" if exc.code >= 500 else "retry"
        return SendResult(item.key, outcome, _reply_text(exc))
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return SendResult(item.key, "uncertain", reason(
            N_("connection lost during DATA ({problem})"),
            problem=f"{exc.__class__.__name__}: {exc}"))
    return SendResult(item.key, "sent", told("250"))


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
                await _report(report, SendResult(item.key, "retry",
                                                 reason(N_("dispatcher stopping"))))
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
                    await _report(report, SendResult(item.key, "retry", reason(
                        N_("cannot connect to {host}:{port} ({problem})"),
                        host=config.host, port=config.port,
                        problem=f"{exc.__class__.__name__}: {exc}")))
                    continue
            # Recorded (committed) before the first byte of this message goes out: an
            # action claimed but never started can be released safely after a crash.
            if not before_send(item.key):
                continue
            try:
                result = await _send_one(client, item)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                # MAIL/RCPT never reached the server's acceptance: safe to try again.
                result = SendResult(item.key, "retry",
                                    told(f"{exc.__class__.__name__}: {exc}"))
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
