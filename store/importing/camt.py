"""Reading credits from an ISO 20022 camt.053 bank statement, safely.

The XML is parsed by defusedxml with DTDs forbidden: a document that declares entities
(billion laughs) or points to external ones (XXE) is refused before anything expands.
Only booked credit entries are read; each transaction detail becomes one payment line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, parse

from relance.errors import UsageError
from relance.store.importing.rows import RowError

MAX_BYTES = 50_000_000
_TOKEN = re.compile(r"[^\s,;:/()]+")


@dataclass(frozen=True)
class BankCredit:
    """One credit of a statement: who it is for and what its texts say."""

    entry: int
    account_iban: str | None
    received_on: dt.date
    amount: Decimal
    currency: str
    reference: str
    # Structured creditor references and words of the unstructured remittance text,
    # in the order given: candidates for an invoice number.
    candidates: tuple[str, ...]
    text: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Any, *path: str) -> Any:
    current = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _children(element: Any, name: str) -> list[Any]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _text(element: Any, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None or found.text is None:
        return None
    return str(found.text).strip() or None


def _descendants(element: Any, name: str) -> list[Any]:
    return [] if element is None else [e for e in element.iter() if _local(e.tag) == name]


def _date(entry: Any) -> dt.date | None:
    for container in ("BookgDt", "ValDt"):
        text = _text(entry, container, "Dt") or _text(entry, container, "DtTm")
        if text:
            try:
                return dt.date.fromisoformat(text[:10])
            except ValueError:
                return None
    return None


def read_camt053(path: Path) -> tuple[list[BankCredit], list[RowError]]:
    """The booked credits of a camt.053 file, and the entries that could not be read."""
    label = path.name
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(f"{label}: larger than {MAX_BYTES // 1_000_000} MB; split the "
                         "statement")
    try:
        tree = parse(str(path), forbid_dtd=True, forbid_entities=True,
                     forbid_external=True)
    except DefusedXmlException as exc:
        raise UsageError(f"{label}: refused: the XML declares a DTD or entities "
                         f"({exc.__class__.__name__}); a bank statement never needs them") \
            from exc
    except ParseError as exc:
        raise UsageError(f"{label}: not well-formed XML ({exc})") from exc
    root = tree.getroot()
    statements = _descendants(root, "Stmt")
    if _local(root.tag) != "Document" or not statements:
        raise UsageError(f"{label}: not a camt.053 statement (no Document/BkToCstmrStmt/Stmt)")
    credits: list[BankCredit] = []
    errors: list[RowError] = []
    number = 0
    for statement in statements:
        iban = _text(statement, "Acct", "Id", "IBAN")
        statement_id = _text(statement, "Id") or "statement"
        for entry in _children(statement, "Ntry"):
            number += 1
            if _text(entry, "CdtDbtInd") != "CRDT":
                continue
            status = _text(entry, "Sts", "Cd") or _text(entry, "Sts")
            if status not in (None, "BOOK"):
                continue
            received_on = _date(entry)
            if received_on is None:
                errors.append(RowError(number, "BookgDt", "has no booking date", "entry"))
                continue
            details = _descendants(entry, "TxDtls") or [entry]
            for index, detail in enumerate(details, start=1):
                # Elements are falsy when they have no children: test against None.
                own = _child(detail, "AmtDtls", "TxAmt", "Amt")
                if own is None:
                    own = _child(detail, "Amt")
                if own is None and len(details) > 1:
                    errors.append(RowError(number, "Amt", f"transaction {index} has no "
                                           "amount of its own", "entry"))
                    continue
                amount_element = own if own is not None else _child(entry, "Amt")
                try:
                    amount = Decimal(str(amount_element.text).strip())
                    currency = str(amount_element.get("Ccy", "")).strip().upper()
                except (AttributeError, InvalidOperation):
                    errors.append(RowError(number, "Amt", "is not an amount", "entry"))
                    continue
                if amount <= 0 or len(currency) != 3:
                    errors.append(RowError(number, "Amt", "needs a positive amount and a "
                                           "currency (Ccy)", "entry"))
                    continue
                reference = next((value for value in (
                    _text(detail, "Refs", "AcctSvcrRef"), _text(detail, "Refs", "EndToEndId"),
                    _text(entry, "AcctSvcrRef"), _text(entry, "NtryRef"))
                    if value and value != "NOTPROVIDED"), None)
                if reference is None:
                    reference = f"camt:{statement_id}:{number}"
                if len(details) > 1 and not reference.endswith(f"/{index}"):
                    reference = f"{reference}/{index}"
                # The creditor's reference, and the referred documents' numbers.
                structured = [str(e.text).strip() for e in _descendants(detail, "Ref")
                              if e.text]
                structured += [str(number.text).strip()
                               for document in _descendants(detail, "RfrdDocInf")
                               for number in _children(document, "Nb") if number.text]
                unstructured = " ".join(str(e.text).strip()
                                        for e in _descendants(detail, "Ustrd") if e.text)
                candidates = tuple(dict.fromkeys(
                    [*structured, *_TOKEN.findall(unstructured)]))
                credits.append(BankCredit(number, iban, received_on, amount, currency,
                                          reference[:200], candidates, unstructured))
    return credits, errors
