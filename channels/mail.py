"""E-mail: messages built only through the e-mail library, their headers made safe.

Header safety: every value bound for a header (names, addresses, subject) is refused if
it holds a control character, U+2028/U+2029/U+0085 or the encoded-word opener `=?`.
Python 3.11.7 (this project's floor) folds an encoded word holding a newline into a real
header (CVE-2024-6923); refusing these values keeps debtor data out of header syntax.

Folding: Python 3.11's `email.policy.SMTP` drops the quotes of a display name when it
folds a long address header, so `"Salon, <evil@x.fr>, Lyon" <d@client.fr>` became two
recipients; it also loses spaces between words when it folds a Subject into encoded
words. So address headers and the Subject are serialised here (`POLICY`), from the
`Address` objects and the text, never by the library's folder: a display name is plain
words, one quoted string, or RFC 2047 encoded words, and a line breaks only where a space
was. Every message is written with `POLICY` (`message_bytes`).

Sending is `relance.channels.smtp`.
"""

from __future__ import annotations

import base64
import email.contentmanager
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from relance.channels.reasons import ReasonedError, reason, term
from relance.kernel.addresses import is_email_address
from relance.kernel.i18n import N_

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]|=\?")


class HeaderRefused(ReasonedError):
    """A value bound for an e-mail header is unsafe; the action cannot be sent as is."""


# What a refusal names (`what`, as callers spell it), for the catalogs: the reader sees
# it in their language, the record keeps it as written.
PARTS = (
    N_("debtor address"), N_("debtor name"), N_("recipient address"), N_("recipient name"),
    N_("creditor address"), N_("creditor name"), N_("reply-to address"), N_("reply-to name"),
    N_("subject"), N_("attachment name"), N_("Message-ID domain"),
    N_("summary sender address"), N_("summary sender name"),
    N_("summary recipient address"), N_("summary recipient name"),
)


def check_header_value(value: str, what: str) -> str:
    """`value` unchanged if safe for a header, else HeaderRefused naming `what`."""
    match = _FORBIDDEN.search(value)
    if match:
        found = match.group(0)
        shown = "=?" if found == "=?" else f"U+{ord(found):04X}"
        raise HeaderRefused(reason(
            N_("{what} contains {found}, which is not allowed in an e-mail header: {value}"),
            what=term(what), found=shown, value=repr(value[:60])))
    return value


def check_address(addr: str, what: str) -> Address:
    check_header_value(addr, what)
    addr = addr.strip()
    if not is_email_address(addr):
        raise HeaderRefused(reason(N_("{what} is not a valid e-mail address: {address!r}"),
                                   what=term(what), address=addr))
    local, _, domain = addr.rpartition("@")
    return Address(username=local, domain=domain)


def _single_spaced(value: str) -> str:
    # Runs of spaces mean nothing in a name or a subject, and single spaces are where
    # `_fold` may break a line. Whitespace right after a space (U+00A0 ...) goes too:
    # Python's parser swallows it (`str.lstrip`), and the text read back must be the
    # text written.
    return re.sub(r" \s*", " ", value).strip(" ")


def mailbox(name: str | None, addr: str, what: str) -> Address:
    """The address `addr` with its display name, refused (`HeaderRefused`) when either
    is unsafe. `what` is whose it is, in English (`debtor`): a refusal names it in the
    reader's language through `PARTS`, and the record keeps it as written."""
    base = check_address(addr, f"{what} address")
    display = _single_spaced(check_header_value(name or "", f"{what} name"))
    # Refused now, with the action's reason, rather than when the message is written.
    _check_tokens(_phrase_tokens(display), f"{what} name")
    return Address(display_name=display, username=base.username, domain=base.domain)


# -- serialising address headers and the Subject -------------------------------------

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")  # RFC 5322 atext
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# RFC 2047 section 5(3): the only characters left as is in a Q-encoded word of a phrase.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
# RFC 2047 section 2 allows 75 characters; 69 fits after "Subject: " on a 78-char line.
_SUBJECT_EW_MAX = 69
_LINE_MAX = 78  # RFC 5322 section 2.1.1: SHOULD
_LINE_HARD_MAX = 998  # RFC 5322 section 2.1.1: MUST
# A token that fits a line after the longest address header's name ("Resent-Sender: ")
# and before a ",": longer ones are refused, a line is never cut inside a token.
_TOKEN_MAX = _LINE_HARD_MAX - len("Resent-Sender: ,")
_ADDRESS_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "sender",
    "resent-from", "resent-to", "resent-cc", "resent-bcc", "resent-sender",
})


def _atom(word: str) -> bool:
    # `=?` would be read back as the start of an encoded word: such a word is encoded.
    return bool(_ATEXT.fullmatch(word)) and "=?" not in word


def _encoded_word(text: str) -> str:
    """`text` as one RFC 2047 encoded word, Q or B, whichever is shorter."""
    data = text.encode("utf-8")
    q = "".join(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in data)
    b = base64.b64encode(data).decode("ascii")
    return f"=?utf-8?q?{q}?=" if len(q) <= len(b) else f"=?utf-8?b?{b}?="


def _phrase_tokens(name: str) -> list[str]:
    """A display name as the words of an RFC 5322 phrase, joined by single spaces.

    Plain words when every word is an atom; else one quoted string when the name is
    printable ASCII (the folder may break it at its spaces: unfolding gives them back);
    else plain atoms and encoded words, each run of words that are not atoms being ONE
    encoded word. Two encoded words are never adjacent: RFC 2047 drops the space between
    them and Python 3.11's parser keeps it, so a split would read differently in a
    mail client and in Python. A run longer than 75 characters therefore stays one long
    encoded word (mail clients and Python read them), bounded by the 998-octet line.
    """
    if not name:
        return []
    words = name.split(" ")
    if all(_atom(word) for word in words):
        return words
    if _PRINTABLE.fullmatch(name) and "=?" not in name:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}"'.split(" ")
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if _atom(word):
            if run:
                tokens.append(_encoded_word(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.append(_encoded_word(" ".join(run)))
    return tokens


def _text_tokens(text: str) -> list[str]:
    """Unstructured text (a Subject) as plain words and encoded words.

    Printable ASCII words stay as they are; each run of other words (non-ASCII, or too
    long for a line) becomes encoded words of at most 75 characters, cut anywhere: in
    unstructured text both RFC 2047 and Python drop the space between two encoded words,
    so the spaces of the run are carried inside them.
    """
    tokens: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        chunk = ""
        for char in " ".join(run):
            if chunk and len(_encoded_word(chunk + char)) > _SUBJECT_EW_MAX:
                tokens.append(_encoded_word(chunk))
                chunk = ""
            chunk += char
        tokens.append(_encoded_word(chunk))
        run.clear()

    for word in text.split(" ") if text else []:
        if (_PRINTABLE.fullmatch(word) and "=?" not in word
                and len(word) <= _LINE_MAX - len("Subject: ")):
            flush()
            tokens.append(word)
        else:
            run.append(word)
    flush()
    return tokens


def _address_tokens(header: AddressHeader) -> list[str]:
    tokens: list[str] = []
    for group in header.groups:
        members: list[str] = []
        for address in group.addresses:
            if address.display_name:
                members += [*_phrase_tokens(address.display_name), f"<{address.addr_spec}>"]
            else:
                members.append(address.addr_spec)
            members[-1] += ","
        if members:
            members[-1] = members[-1][:-1]
        if group.display_name is not None:
            label = _phrase_tokens(group.display_name) or ['""']
            label[-1] += ":"
            members = [*label, *members]
            members[-1] += ";"
        if tokens:
            tokens[-1] += ","
        tokens += members
    return tokens


def _check_tokens(tokens: list[str], what: str) -> None:
    if any(len(token) > _TOKEN_MAX for token in tokens):
        raise HeaderRefused(reason(N_("{what} is too long for an e-mail header"),
                                   what=term(what)))


def _fold(name: str, tokens: list[str], linesep: str) -> str:
    """`Name: tokens`, breaking lines only between tokens (where the value had a space)."""
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if line == f"{name}:" or len(line) + 1 + len(token) <= _LINE_MAX:
            line += f" {token}"
        else:
            lines.append(line)
            line = f" {token}"
    lines.append(line)
    if any(len(item) > _LINE_HARD_MAX for item in lines):
        raise HeaderRefused(reason(N_("{header} is too long for an e-mail header"),
                                   header=name))
    return linesep.join(lines) + linesep


if TYPE_CHECKING:
    _EmailPolicy = EmailPolicy[EmailMessage]
else:  # not subscriptable at run time
    _EmailPolicy = EmailPolicy


class _MailPolicy(_EmailPolicy):
    """`email.policy.SMTP`, except that address headers and the Subject are folded by
    `_fold` above rather than by the library (see the module's docstring)."""

    def _own_fold(self, name: str, value: str) -> str | None:
        kind = name.lower()
        if kind not in _ADDRESS_HEADERS and kind != "subject":
            return None
        # A header object (built by this module) or a source string (a parsed message):
        # either way, folded from its parsed value, never from the source text.
        header = value if hasattr(value, "name") else self.header_factory(
            name, "".join(value.splitlines()))
        if kind == "subject":
            return _fold(name, _text_tokens(_single_spaced(str(header))), self.linesep)
        if not isinstance(header, AddressHeader):
            raise HeaderRefused(reason(N_("{header} is not an address header"),
                                       header=name))
        return _fold(name, _address_tokens(header), self.linesep)

    def fold(self, name: str, value: str) -> str:
        own = self._own_fold(name, value)
        return super().fold(name, value) if own is None else own

    def fold_binary(self, name: str, value: str) -> bytes:
        own = self._own_fold(name, value)
        # Our folding is ASCII by construction (encoded words for everything else).
        return super().fold_binary(name, value) if own is None else own.encode("ascii")


POLICY = _MailPolicy(linesep="\r\n")


def message_bytes(message: EmailMessage) -> bytes:
    """The message as sent and as written to an .eml file."""
    return message.as_bytes(policy=POLICY)


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
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = to
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Subject"] = _single_spaced(check_header_value(subject, "subject"))
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


# -- the same bytes, built from prepared parts -------------------------------------

# The library's own choice and writing of a transfer encoding, so that the bytes are
# the same; a Python without it builds every message through the library.
_library_encode_text: Callable[[str, str, str | None, EmailPolicy[EmailMessage]],
                               tuple[str, str]] | None = getattr(
    email.contentmanager, "_encode_text", None)


def _part(subtype: str, body: str) -> tuple[str, str]:
    """A text part's headers (without MIME-Version) and its encoded body."""
    assert _library_encode_text is not None
    cte, payload = _library_encode_text(body, "utf-8", None, POLICY)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n", payload.replace("\n", "\r\n"))


def build_message_bytes(
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
) -> bytes:
    """`message_bytes(build_message(...))`, byte for byte (bar the random boundary),
    without the library's header parsing and generator: headers are folded by `_fold`
    as `POLICY` folds them, bodies encoded by the library's own function. Messages with
    attachments, or a Message-ID or Date that would need folding, go through
    `build_message`."""
    subject = _single_spaced(check_header_value(subject, "subject"))
    stamp = ""
    if date is not None:
        import datetime as dt

        assert isinstance(date, dt.datetime)
        stamp = format_datetime(date)
    if (attachments or _library_encode_text is None or not msg_id.isascii()
            or len(f"Message-ID: {msg_id}") > _LINE_MAX or _FORBIDDEN.search(msg_id)):
        return message_bytes(build_message(
            sender=sender, to=to, subject=subject, text=text, html=html, reply_to=reply_to,
            attachments=attachments, msg_id=msg_id, date=date))
    head = [_fold("From", _mailbox_tokens(sender), "\r\n"),
            _fold("To", _mailbox_tokens(to), "\r\n")]
    if reply_to is not None:
        head.append(_fold("Reply-To", _mailbox_tokens(reply_to), "\r\n"))
    head.append(_fold("Subject", _text_tokens(subject), "\r\n"))
    head.append(f"Message-ID: {msg_id}\r\n")
    if stamp:
        head.append(f"Date: {stamp}\r\n")
    text_head, text_body = _part("plain", text)
    if html is None:
        return "".join([*head, text_head, "MIME-Version: 1.0\r\n\r\n",
                        text_body]).encode("ascii", "surrogateescape")
    html_head, html_body = _part("html", html)
    boundary = _boundary(text_body + html_body)
    return "".join([
        *head, "MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n',
        f"--{boundary}\r\n", text_head, "\r\n", text_body,
        f"\r\n--{boundary}\r\n", html_head, "MIME-Version: 1.0\r\n\r\n", html_body,
        f"\r\n--{boundary}--\r\n"]).encode("ascii", "surrogateescape")


def _mailbox_tokens(address: Address) -> list[str]:
    if not address.display_name:
        return [address.addr_spec]
    return [*_phrase_tokens(address.display_name), f"<{address.addr_spec}>"]


def _boundary(bodies: str) -> str:
    """A boundary of the library's form that occurs in no body line."""
    while True:
        boundary = f"{'=' * 15}{secrets.randbelow(sys.maxsize):019d}=="
        if f"--{boundary}" not in bodies:
            return boundary


# How `Path.write_bytes` opens a file (`open(path, "wb")`): the same file, made the same way.
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_eml(message: EmailMessage | bytes, out: Path) -> Path:
    """The message (or its bytes from `message_bytes`) written whole to `out`: beside
    it first, then renamed into place, so the kept copy is there whole or not at all."""
    data = message if isinstance(message, bytes) else message_bytes(message)
    tmp = f"{out}.part"
    # The folder is made only when missing: a dispatch writes a thousand copies into one
    # day's folder, and asking for it each time cost a system call per message. File
    # descriptors rather than a file object: by profile, a third of the copy's cost.
    try:
        fd = os.open(tmp, _WRITE_FLAGS, 0o666)
    except FileNotFoundError:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _WRITE_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, out)
    return out
