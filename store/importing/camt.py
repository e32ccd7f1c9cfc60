"""Reading credits and returns from an ISO 20022 camt.053 bank statement, safely.

The XML is parsed by defusedxml with DTDs forbidden: a document that declares entities
(billion laughs) or points to external ones (XXE) is refused before anything expands.
Only booked entries (`Sts` BOOK, or none) are read; each transaction detail (`TxDtls`)
becomes one `BankEntry`:

- a `CRDT` entry is a CREDIT;
- a `DBIT` entry is a RETURN when a detail carries return information (`RtrInf`, its
  reason in `Rsn/Cd` or `Rsn/Prtry`) or the entry is a reversal (`RvslInd` true): money
  given back to a payer after it was credited. Its `original_ref` is the detail's
  `EndToEndId` (else `OrgnlEndToEndId`, else `InstrId`), which names the credit returned;
- left out: other debits, and a `CRDT` entry with `RtrInf` or `RvslInd` true: a reversed
  debit, i.e. one of our own payments coming back, not a customer paying.

`bank_ref`: the bank's `AcctSvcrRef` (the detail's, else the entry's), else the detail's
`EndToEndId`, else the entry's `NtryRef`, else `camt:{statement id}:{entry}`; a batched
entry's details get a `/n` suffix. A return never takes the `EndToEndId`: it is the
returned credit's, and would make the return look like the credit again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, parse

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.importing.rows import RowError
from relance.store.importing.statement import (
    MAX_BYTES,
    MAX_REF,
    BankEntry,
    EntryKind,
    candidates_of,
    unique_refs,
)

__all__ = ["MAX_BYTES", "read_camt053"]
_NOT_PROVIDED = "NOTPROVIDED"


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


def _kind(entry: Any) -> EntryKind | None:
    """What a booked entry is to receivables, or None when it is not read."""
    indicator = _text(entry, "CdtDbtInd")
    reversal = (_text(entry, "RvslInd") or "").lower() in ("true", "1")
    returned = bool(_descendants(entry, "RtrInf"))
    if indicator == "CRDT":
        return None if reversal or returned else EntryKind.CREDIT
    if indicator == "DBIT" and (reversal or returned):
        return EntryKind.RETURN
    return None


def _provided(*values: str | None) -> str | None:
    return next((value for value in values if value and value != _NOT_PROVIDED), None)


def _return_reason(detail: Any) -> str | None:
    for info in _descendants(detail, "RtrInf"):
        reason = _text(info, "Rsn", "Cd") or _text(info, "Rsn", "Prtry")
        if reason:
            return reason
    return None


def _original_ref(detail: Any) -> str | None:
    texts = [str(e.text).strip() for name in ("OrgnlEndToEndId", "InstrId")
             for e in _descendants(detail, name) if e.text]
    return _provided(_text(detail, "Refs", "EndToEndId"), *texts)


def read_camt053(path: Path) -> tuple[list[BankEntry], list[RowError]]:
    """The booked credits and returns of a camt.053 file, and the entries not read."""
    label = path.name
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(_("{label}: larger than {most} MB; split the statement").format(
            label=label, most=MAX_BYTES // 1_000_000))
    try:
        tree = parse(str(path), forbid_dtd=True, forbid_entities=True,
                     forbid_external=True)
    except DefusedXmlException as exc:
        raise UsageError(_("{label}: refused: the XML declares a DTD or entities ({problem}); "
                           "a bank statement never needs them").format(
                               label=label, problem=exc.__class__.__name__)) from exc
    except (ParseError, LookupError) as exc:  # LookupError: an unknown declared encoding
        raise UsageError(_("{label}: not well-formed XML ({problem})").format(
            label=label, problem=exc)) from exc
    root = tree.getroot()
    statements = _descendants(root, "Stmt")
    if _local(root.tag) != "Document" or not statements:
        raise UsageError(_("{label}: not a camt.053 statement (no Document/BkToCstmrStmt/"
                           "Stmt)").format(label=label))
    entries: list[BankEntry] = []
    errors: list[RowError] = []
    number = 0
    for statement in statements:
        iban = _text(statement, "Acct", "Id", "IBAN")
        statement_id = _text(statement, "Id") or "statement"
        for entry in _children(statement, "Ntry"):
            number += 1
            kind = _kind(entry)
            if kind is None:
                continue
            status = _text(entry, "Sts", "Cd") or _text(entry, "Sts")
            if status not in (None, "BOOK"):
                continue
            booked_on = _date(entry)
            if booked_on is None:
                errors.append(RowError(number, "BookgDt", _("has no booking date"), "entry"))
                continue
            details = _descendants(entry, "TxDtls") or [entry]
            for index, detail in enumerate(details, start=1):
                # Elements are falsy when they have no children: test against None.
                own = _child(detail, "AmtDtls", "TxAmt", "Amt")
                if own is None:
                    own = _child(detail, "Amt")
                if own is None and len(details) > 1:
                    errors.append(RowError(number, "Amt", _(
                        "transaction {index} has no amount of its own").format(index=index),
                        "entry"))
                    continue
                amount_element = own if own is not None else _child(entry, "Amt")
                try:
                    amount = Decimal(str(amount_element.text).strip())
                    currency = str(amount_element.get("Ccy", "")).strip().upper()
                except (AttributeError, InvalidOperation):
                    errors.append(RowError(number, "Amt", _("is not an amount"), "entry"))
                    continue
                if amount <= 0 or len(currency) != 3:
                    errors.append(RowError(number, "Amt", _(
                        "needs a positive amount and a currency (Ccy)"), "entry"))
                    continue
                returned = kind is EntryKind.RETURN
                end_to_end = None if returned else _text(detail, "Refs", "EndToEndId")
                reference = _provided(
                    _text(detail, "Refs", "AcctSvcrRef"), _text(entry, "AcctSvcrRef"),
                    end_to_end, _text(entry, "NtryRef"))
                if reference is None:
                    reference = f"camt:{statement_id}:{number}"
                if len(details) > 1 and not reference.endswith(f"/{index}"):
                    reference = f"{reference}/{index}"
                # The creditor's reference, and the referred documents' numbers.
                structured = [str(e.text).strip() for e in _descendants(detail, "Ref")
                              if e.text]
                structured += [str(nb.text).strip()
                               for document in _descendants(detail, "RfrdDocInf")
                               for nb in _children(document, "Nb") if nb.text]
                unstructured = " ".join(str(e.text).strip()
                                        for e in _descendants(detail, "Ustrd") if e.text)
                entries.append(BankEntry(
                    number=number, kind=kind, account_iban=iban, booked_on=booked_on,
                    amount=amount, currency=currency, bank_ref=reference[:MAX_REF],
                    candidates=candidates_of(structured, unstructured), text=unstructured,
                    original_ref=_original_ref(detail) if returned else None,
                    return_reason=_return_reason(detail) if returned else None))
    return unique_refs(entries), errors
