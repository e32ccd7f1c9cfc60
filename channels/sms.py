"""SMS: phone numbers in E.164, message length and segments, and a gateway interface with
an HTTP adapter configured entirely from `[sms]` (URL, auth header, body fields).
"""

from __future__ import annotations

import json
import math
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal, Protocol

import phonenumbers

from relance.channels.config import SmsConfig
from relance.channels.reasons import Reason, ReasonedError, reason, told
from relance.kernel.i18n import N_, _

# The GSM 03.38 default alphabet; the extension table's characters count twice.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


class PhoneInvalid(ReasonedError):
    """A phone number that cannot be turned into a valid E.164 number."""


def to_e164(raw: str | None, region: str = "FR") -> str:
    """`raw` as an E.164 number (+33612345678), refusing invalid ones with the reason."""
    if not raw or not raw.strip():
        raise PhoneInvalid(reason(N_("no phone number")))
    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise PhoneInvalid(reason(N_("{raw!r} is not a phone number ({problem})"),
                                  raw=raw, problem=exc)) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneInvalid(reason(N_("{raw!r} is not a valid phone number for {region} "
                                     "or in international form"),
                                  raw=raw, region=region.upper()))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class SmsSize:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # characters as the network counts them
    segments: int

    def describe(self) -> str:
        return _("{units} characters ({encoding}), {segments} segment(s)").format(
            units=self.units, encoding=self.encoding, segments=self.segments)


def sms_size(text: str) -> SmsSize:
    """Length and segment count: 160/153 per segment in GSM-7, 70/67 in UCS-2."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXT for ch in text):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: a character outside the BMP takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / multi)
    return SmsSize(encoding, units, segments)  # type: ignore[arg-type]


def normalise_text(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class GatewayResult:
    outcome: Literal["sent", "retry", "failed", "uncertain"]
    reason: Reason
    gateway_id: str | None = None

    @property
    def detail(self) -> str:
        """What the record keeps of the gateway's answer."""
        return self.reason.english


class SmsGateway(Protocol):
    def send(self, to: str, text: str) -> GatewayResult: ...


def _never_sent(reason: object) -> bool:
    """Whether a failure proves that the request never reached the gateway: its name did
    not resolve, it refused the connection, or urllib refused the address itself (a text
    reason); nothing was written to the gateway then."""
    return isinstance(reason, socket.gaierror | ConnectionRefusedError | str)


class HttpGateway:
    """POSTs a JSON document built from `[sms] body` (each value a text where `{to}`,
    `{text}` and `{sender}` are replaced) with the configured auth header."""

    def __init__(self, config: SmsConfig) -> None:
        self.config = config

    def payload(self, to: str, text: str) -> bytes:
        values = {"to": to, "text": text, "sender": self.config.sender or ""}
        body = {key: template.replace("{to}", values["to"]).replace("{sender}", values["sender"])
                .replace("{text}", values["text"]) for key, template in self.config.body.items()}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def send(self, to: str, text: str) -> GatewayResult:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.config.auth_header and self.config.token:
            headers[self.config.auth_header] = self.config.token
        request = urllib.request.Request(self.config.url, data=self.payload(to, text),
                                         headers=headers, method="POST")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(request, timeout=self.config.timeout) as response:
                raw = response.read(100_000)
        except urllib.error.HTTPError as exc:
            reply = exc.read(2000).decode("utf-8", "replace").strip()
            detail = f"HTTP {exc.code} {reply}".strip()
            if exc.code in (408, 429) or exc.code >= 500:
                return GatewayResult("retry", told(detail))
            return GatewayResult("failed", told(detail))
        except TimeoutError as exc:
            # The request may have reached the gateway: never resend blindly.
            return GatewayResult("uncertain", reason(
                N_("no answer from the gateway ({problem})"), problem=exc))
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            if _never_sent(why):
                return GatewayResult("retry", reason(
                    N_("cannot reach the gateway ({problem})"), problem=why))
            # A reset, a closed connection or a timeout once connected: the gateway may
            # have taken the request before it went away, so it is never resent blindly.
            return GatewayResult("uncertain", reason(
                N_("no answer from the gateway ({problem})"), problem=repr(why)))
        gateway_id: str | None = None
        if self.config.id_field:
            try:
                value = json.loads(raw).get(self.config.id_field)
                gateway_id = None if value is None else str(value)
            except (ValueError, AttributeError):
                gateway_id = None
        # Not shown: a send that went through needs no reason.
        return GatewayResult("sent", told("accepted"), gateway_id)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
