"""The proof of payment a debtor may attach when declaring a payment: read with a cap,
checked by what the file is (its first bytes, not its name or the browser's word),
stored outside any web root under a random name.

The body of the form is read through `capped_stream`, so that an upload larger than
allowed is refused after that many bytes, whatever Content-Length said (or did not say,
with chunked encoding): nothing larger ever reaches the disk.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _

NOT_AS_EXPECTED = N_("the form was not sent as expected: please send it again")
TOO_LARGE = N_("the file is too large: at most {size} kB")
# Where proofs go, relative to the workspace: beside the audit key, never served.
UPLOAD_FOLDER = Path(".relance") / "uploads"
# What a proof may be, by its first bytes.
PROOF_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
)
# Room for the form's other fields and the multipart boundaries around the file.
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_FIELDS = 60
# A body refused as too large is still read to its end, up to this, so that the browser
# gets the page saying why rather than a connection reset mid-upload.
DRAIN_MAX_BYTES = 64 * 1024 * 1024


class TooLarge(Exception):
    """The request body went past its cap."""


class FormUnreadable(Exception):
    """The form could not be read; `sentence` (untranslated, with `params`) says why.
    Raised before anything is known of the visit's language in this thread, so the
    caller translates it."""

    def __init__(self, sentence: str, **params: object) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.params = params


@dataclass(frozen=True)
class Proof:
    content: bytes
    suffix: str


async def capped_stream(request: Request, most: int) -> AsyncGenerator[bytes, None]:
    """The request's body, refused (`TooLarge`) once more than `most` bytes came."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > most:
        raise TooLarge
    seen = 0
    chunks: AsyncIterator[bytes] = request.stream()
    async for chunk in chunks:
        seen += len(chunk)
        if seen > most:
            raise TooLarge
        yield chunk


async def read_multipart(request: Request, *, file_max_bytes: int) -> FormData:
    """The multipart form of `request`, one file at most, its body capped; a body too
    large or malformed is refused (`FormUnreadable`)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise FormUnreadable(NOT_AS_EXPECTED)
    parser = MultiPartParser(request.headers,
                             capped_stream(request, file_max_bytes + FORM_OVERHEAD_BYTES),
                             max_files=1, max_fields=MAX_FIELDS)
    try:
        return await parser.parse()
    except TooLarge:
        await _drain(request)
        raise FormUnreadable(TOO_LARGE, size=file_max_bytes // 1024) from None
    except MultiPartException:
        raise FormUnreadable(NOT_AS_EXPECTED) from None


async def _drain(request: Request) -> None:
    """Read and drop what is left of the body (`request.stream()` cannot be resumed)."""
    seen = 0
    while seen <= DRAIN_MAX_BYTES:
        message = await request.receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


@dataclass(frozen=True)
class Attached:
    """The file field of the form as sent: its first bytes (one more than allowed, to
    tell a file too large) and whether a file was chosen at all."""

    head: bytes
    chosen: bool


async def attached(upload: object, *, most: int) -> Attached:
    if not isinstance(upload, UploadFile):
        return Attached(b"", False)
    head = await upload.read(most + 1)
    return Attached(head, bool(head) or bool(upload.filename))


def proof_of(sent: Attached, *, most: int) -> Proof | None:
    """The proof attached to the form (None when no file was chosen), refused unless
    it is a PDF, PNG or JPEG of at most `most` bytes."""
    if not sent.chosen:
        return None
    if len(sent.head) > most:
        raise UsageError(_(TOO_LARGE).format(size=most // 1024))
    for signature, suffix in PROOF_SIGNATURES:
        if sent.head.startswith(signature):
            return Proof(sent.head, suffix)
    raise UsageError(_("the proof must be a PDF, PNG or JPEG file"))


def store_proof(workspace_root: Path, proof: Proof) -> str:
    """Write the proof under a random name, readable by its owner only; its path
    relative to the workspace, as the request records it."""
    folder = workspace_root / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    relative = UPLOAD_FOLDER / f"{secrets.token_hex(16)}{proof.suffix}"
    descriptor = os.open(workspace_root / relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(proof.content)
    return relative.as_posix()


def discard_proof(workspace_root: Path, relative: str | None) -> None:
    """Remove a stored proof whose request was refused (nothing refers to it)."""
    if relative:
        (workspace_root / relative).unlink(missing_ok=True)


__all__ = ["NOT_AS_EXPECTED", "UPLOAD_FOLDER", "Attached", "FormUnreadable", "Proof",
           "attached", "discard_proof", "proof_of", "read_multipart", "store_proof"]
