"""A hostile SMTP server: per recipient, it refuses (5xx, 4xx), stalls past the client's
timeout, drops the connection in the middle of DATA, or takes the message and drops the
connection before answering (the client cannot know it arrived)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from typing import Any

# One behaviour per recipient, by the number in its debtor reference (E00-00007 -> 7).
BEHAVIOURS = (
    "normal",
    "tempfail_rcpt",      # 451 to RCPT once: retried, then sent
    "refuse_rcpt",        # 550 to RCPT: failed, shown, never sent
    "tempfail_data",      # 452 at the end of DATA once, message not kept: retried
    "refuse_data",        # 554 at the end of DATA, message not kept: failed
    "stall_rcpt",         # no answer to RCPT past the timeout once: retried
    "stall_data",         # keeps the message, then no answer past the timeout: in doubt
    "drop_mid_data",      # connection closed during DATA, message not kept: in doubt
    "accept_then_drop",   # keeps the message, closes before the 250: in doubt
)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)
_NUMBER = re.compile(r"-(\d+)@")


def behaviour_of(address: str) -> str:
    match = _NUMBER.search(address)
    return BEHAVIOURS[int(match.group(1)) % len(BEHAVIOURS)] if match else "normal"


class HostileSmtp:
    """The aiosmtpd handler. Temporary misbehaviour happens on a recipient's first
    exchange only, so that a correct client gets through on a retry."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self.received: Counter[str] = Counter()
        self.tried: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _first_time(self, address: str, step: str) -> bool:
        with self.lock:
            self.tried[f"{step}:{address}"] += 1
            return self.tried[f"{step}:{address}"] == 1

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        behaviour = behaviour_of(address)
        if behaviour == "refuse_rcpt":
            return "550 5.1.1 mailbox unavailable"
        if behaviour == "tempfail_rcpt" and self._first_time(address, "rcpt"):
            return "451 4.3.0 try again later"
        if behaviour == "stall_rcpt" and self._first_time(address, "rcpt"):
            await asyncio.sleep(self.stall_seconds)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        behaviour = behaviour_of(address)
        if behaviour == "refuse_data":
            return "554 5.7.1 message refused"
        first = self._first_time(address, "data")
        if behaviour == "tempfail_data" and first:
            return "452 4.3.1 insufficient storage"
        if behaviour == "drop_mid_data" and first:
            server.transport.close()
            return "421 closing"
        found = _MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.received[found.group(1).decode() if found else "?"] += 1
        if behaviour == "stall_data" and first:
            await asyncio.sleep(self.stall_seconds)
        if behaviour == "accept_then_drop" and first:
            server.transport.close()
            return "421 closing"
        return "250 Message accepted"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(self.received)
