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
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
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
    """One message to send: an `EmailMessage`, or its bytes already serialised with
    `relance.channels.mail.POLICY` (the dispatcher writes them once, for the kept copy
    and for the wire)."""

    key: int
    message: EmailMessage | bytes
    envelope_from: str
    recipients: list[str] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return self.message if isinstance(self.message, bytes) else message_bytes(self.message)


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
        await client.data(item.data)
    except aiosmtplib.SMTPResponseException as exc:
        # The server answered: a definite no.
        outcome = "failed" if exc.code >= 500 else "retry"
        return SendResult(item.key, outcome, _reply_text(exc))
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return SendResult(item.key, "uncertain", reason(
            N_("connection lost during DATA ({problem})"),
            problem=f"{exc.__class__.__name__}: {exc}"))
    return SendResult(item.key, "sent", told("250"))


# A connection idle longer than this is not reused but opened again: a server may have
# closed it meanwhile (idle timeouts of a few minutes are common), and a dead connection
# is only found out by the next MAIL failing, which would put its message off for a
# retry. Between two groups of one dispatch a connection waits well under a second.
IDLE_REUSE_SECONDS = 5.0


class _Line:
    """One SMTP connection, opened when first needed and reused for
    `messages_per_connection` messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.client: aiosmtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.last_used = 0.0

    async def ready(self, key: int) -> SendResult | None:
        """Open (or renew) the connection; None when ready, else the outcome of the
        message `key` that cannot go out on it (nothing of it was sent)."""
        config = self.config
        client = self.client
        if client is not None and client.is_connected and (
                self.sent_on_connection < config.messages_per_connection) and (
                time.monotonic() - self.last_used <= IDLE_REUSE_SECONDS):
            return None
        await self.close()
        try:
            self.client = await _connect(config)
            self.sent_on_connection = 0
            self.last_used = time.monotonic()
        except aiosmtplib.SMTPResponseException as exc:
            outcome: Outcome = "failed" if exc.code >= 500 and exc.code != 554 else "retry"
            if exc.code in (530, 534, 535):  # authentication: an operator must act
                outcome = "failed"
            return SendResult(key, outcome, _reply_text(exc))
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            return SendResult(key, "retry", reason(
                N_("cannot connect to {host}:{port} ({problem})"),
                host=config.host, port=config.port,
                problem=f"{exc.__class__.__name__}: {exc}"))
        return None

    async def send(self, item: Outgoing) -> SendResult:
        """The exchange of `item` on the connection `ready` opened."""
        assert self.client is not None
        try:
            result = await _send_one(self.client, item)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # MAIL/RCPT never reached the server's acceptance: safe to try again.
            result = SendResult(item.key, "retry", told(f"{exc.__class__.__name__}: {exc}"))
            self.client = None
        if result.outcome == "uncertain":
            self.client = None
        self.sent_on_connection += 1
        self.last_used = time.monotonic()
        return result

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            await _quit(self.client)
        self.client = None


def _stopping(key: int) -> SendResult:
    # Not started: handed back so that it is not left in flight (released, not retried).
    return SendResult(key, "retry", reason(N_("dispatcher stopping")))


async def _worker(
    config: SmtpConfig,
    queue: asyncio.Queue[Outgoing | None],
    report: Callable[[SendResult], Awaitable[None] | None],
    should_stop: Callable[[], bool],
    before_send: Callable[[int], bool],
) -> None:
    line = _Line(config)
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if should_stop():
                await _report(report, _stopping(item.key))
                continue
            refused = await line.ready(item.key)
            if refused is not None:
                await _report(report, refused)
                continue
            # Recorded (committed) before the first byte of this message goes out: an
            # action claimed but never started can be released safely after a crash.
            if not before_send(item.key):
                continue
            await _report(report, await line.send(item))
    finally:
        await line.close()


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


# A chunk's started marks are committed together before any of its messages goes out,
# so a dispatcher killed mid-chunk leaves at most this many sends per connection in
# doubt; larger chunks would save few commits (one per chunk) for more doubt.
CHUNK_PER_CONNECTION = 4

Commit = Callable[[Sequence[SendResult], Sequence[int]], Collection[int]]


async def _drain(line: _Line, todo: deque[Outgoing], results: list[SendResult],
                 not_begun: set[int], should_stop: Callable[[], bool]) -> None:
    while todo:
        item = todo.popleft()
        if should_stop():
            not_begun.discard(item.key)
            results.append(_stopping(item.key))
            continue
        refused = await line.ready(item.key)
        not_begun.discard(item.key)
        if refused is not None:
            results.append(refused)
            continue
        results.append(await line.send(item))


class Lines:
    """The connections of a dispatch, kept open from one group of e-mails to the next
    (`send_batched(..., lines=)`) and closed by `close` at its end, rather than opened
    again for each group (a connection, EHLO, then QUIT: 1.2 ms of CPU each on the
    loopback, more with TLS and AUTH, on each of `max_connections`). They are used from
    one event loop only (the dispatch's `asyncio.Runner`)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.lines = [_Line(config) for _ in range(config.max_connections)]

    async def close(self) -> None:
        for line in self.lines:
            with contextlib.suppress(Exception):
                await line.close()


async def send_batched(
    config: SmtpConfig,
    items: Sequence[Outgoing],
    commit: Commit,
    should_stop: Callable[[], bool] = lambda: False,
    chunk: int | None = None,
    lines: Lines | None = None,
) -> None:
    """Send `items` over at most `config.max_connections` reused connections, a chunk
    at a time, committing in batches rather than per message.

    Before each chunk, `commit(outcomes, starting)` records in ONE transaction the
    outcomes of the previous chunk and that the exchanges of this chunk's messages
    start; it returns the keys still ours, and only those are sent. After the last
    chunk it is called with the last outcomes and nothing to start. So every started
    mark is committed before its message's first byte, and every outcome after its
    exchange. If something interrupts the sending (an error, a cancel), the outcomes
    known and the messages marked but never begun (`dispatcher stopping`: released)
    are committed before the error goes on; what was mid-exchange stays started, for
    recovery to make uncertain.

    `lines`: connections to use and leave open for the caller's next call (`Lines`);
    without them the connections are opened here and closed at the end. Either way
    they are closed when the sending is interrupted, being then in no known state."""
    size = max(1, chunk or config.max_connections * CHUNK_PER_CONNECTION)
    count = min(config.max_connections, max(1, len(items)))
    used = lines.lines[:count] if lines is not None else [_Line(config) for _ in range(count)]
    outcomes: list[SendResult] = []
    not_begun: set[int] = set()
    finished = False
    try:
        for start in range(0, len(items), size):
            part = items[start:start + size]
            if should_stop():
                outcomes += [_stopping(item.key) for item in items[start:]]
                break
            ours = set(commit(outcomes, [item.key for item in part]))
            outcomes = []
            todo = deque(item for item in part if item.key in ours)
            not_begun = {item.key for item in todo}
            await asyncio.gather(*(_drain(line, todo, outcomes, not_begun, should_stop)
                                   for line in used[:len(todo)]))
        commit(outcomes, [])
        outcomes = []
        finished = True
    except BaseException:
        with contextlib.suppress(Exception):
            commit([*outcomes, *(_stopping(key) for key in sorted(not_begun))], [])
        raise
    finally:
        if lines is None or not finished:
            for line in used:
                with contextlib.suppress(Exception):
                    await line.close()
