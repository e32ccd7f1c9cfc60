"""What a bank statement says, whatever its format (camt.053, CFONB 120, MT940).

Each reader turns its file into `BankEntry` records and a list of the entries it could
not read; the payment import then matches the credits to invoices and the returns to the
payments they undo. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _

# Words of a remittance text that may be an invoice number or a payment reference.
_TOKEN = re.compile(r"[^\s,;:/()]+")


class EntryKind(enum.StrEnum):
    CREDIT = "credit"  # money received
    RETURN = "return"  # a credit given back: a returned direct debit, a bounced cheque


@dataclass(frozen=True)
class BankEntry:
    """One booked entry of a statement that matters to receivables.

    `number` is the entry's position in the file (the line for CFONB 120 and MT940, the
    `Ntry` for camt.053), used in error messages. `bank_ref` is the bank's own identity
    of the entry, stable across re-imports of the same statement. For a return,
    `original_ref` names what it returns (the end-to-end id or reference of the credit),
    when the bank says it.
    """

    number: int
    kind: EntryKind
    account_iban: str | None
    booked_on: dt.date
    amount: Decimal  # always positive; `kind` says which way the money went
    currency: str
    bank_ref: str
    # Structured references first, then the words of the free text, in order: the
    # candidates for an invoice number or a payment reference.
    candidates: tuple[str, ...]
    text: str
    original_ref: str | None = None
    return_reason: str | None = None


def candidates_of(structured: list[str], text: str) -> tuple[str, ...]:
    """The distinct candidates for an invoice number: structured references first."""
    return tuple(dict.fromkeys([*(s for s in structured if s), *_TOKEN.findall(text)]))


# The width of a payment's reference in the store.
MAX_REF = 200
# The largest statement read; a bigger file is almost surely not one statement.
MAX_BYTES = 50_000_000


def read_text(path: Path) -> str:
    """The statement's text with `\\n` line ends, or UsageError if it is too large.

    UTF-8 first (a byte-order mark is dropped); banks still send Latin-1 files, and
    Latin-1 decodes any byte, so an odd character never becomes a traceback.
    """
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(_("{label}: larger than {most} MB; split the statement").format(
            label=path.name, most=MAX_BYTES // 1_000_000))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    # A DOS end-of-file mark may close old exports.
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\x1a")


def two_digit_year(yy: int) -> int:
    """The century of a YY year: statements are of this century, a few old ones aside."""
    return 2000 + yy if yy < 70 else 1900 + yy


def unique_refs(entries: list[BankEntry]) -> list[BankEntry]:
    """The entries, a repeated `bank_ref` suffixed `/2`, `/3`… in file order.

    A bank may give two entries the same reference (or none, and the fallback repeats);
    the payment import keys on it, so each entry of one file needs its own, and the
    suffix keeps it the same when the same file is read again.
    """
    seen: dict[str, int] = {}
    result: list[BankEntry] = []
    for entry in entries:
        count = seen.get(entry.bank_ref, 0) + 1
        seen[entry.bank_ref] = count
        if count == 1:
            result.append(entry)
            continue
        suffix = f"/{count}"
        result.append(replace(entry, bank_ref=entry.bank_ref[:MAX_REF - len(suffix)] + suffix))
    return result
