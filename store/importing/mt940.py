"""Reading a SWIFT MT940 customer statement.

The fields read (SWIFT MT940; one field runs from its tag to the next tag):

- `:20:` transaction reference: opens a statement (a file may hold several).
- `:25:` account: its IBAN when it is one (`IBAN`, `BIC/IBAN`, or an IBAN followed by
  the currency); otherwise the statement names no IBAN.
- `:28C:` statement number and sequence.
- `:60F:` / `:60M:` opening balance `C|D YYMMDD CCY amount`: the statement's currency.
- `:61:` statement line `6!n[4!n]2a[1!a]15d1!a3!c[16x][//16x]`, then `[34x]` on the next
  line: value date YYMMDD, entry date MMDD, mark `C`, `D`, `RC` or `RD`, funds code,
  amount with a decimal comma, transaction type (`NTRF`, `NDDT`, `NRTI`…), the
  customer's reference (`NONREF`: none), `//` and the bank's reference, supplementary
  details.
- `:86:` right after a `:61:`: information about it, on up to six (or more) lines. German
  banks structure it as `GVC?00…?20…?29…?32…`; the purpose (`?20`-`?29`, `?60`-`?63`)
  and names (`?32`, `?33`) are joined, and the SEPA keys in the purpose (`EREF+`,
  `SVWZ+`…) are kept apart. Dutch `/EREF/…/RTRN/…/` texts are read as they are.
- `:62F:`, `:62M:`, `:64:`, `:65:`, the `{1:}`…`{5:}` SWIFT blocks and any preamble
  before the first tag: skipped.

What counts: a `C` line is a CREDIT. A return is money given back to a payer after it
was credited: an `RC` line (reversal of a credit) or a `D` line of transaction type
`RTI` (returned item: `NRTI`, `SRTI`…). Other debits are left out; so is an `RD` line
(reversal of a debit) or a `C` line of type `RTI`: money of ours coming back, not a
customer paying. A return's `original_ref` is the `EREF` of its `:86:` (else its
customer reference) and its `return_reason` the `/RTRN/` code when the bank gives one.

The bank reference after `//` is the entry's `bank_ref`; without one it is
`mt940:{:20:}:{:28C:}:{n}`, the n-th line of that statement.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from stdnum import iban as iban_check

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.kernel.money import minor_units
from relance.store.importing.rows import RowError
from relance.store.importing.statement import (
    BankEntry,
    EntryKind,
    candidates_of,
    read_text,
    two_digit_year,
    unique_refs,
)

_TAG = re.compile(r":(\d\d[A-Z]?):")
_BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})(\d{1,14},\d*)")
_AMOUNT = re.compile(r"\d+,\d*")
_TYPE = re.compile(r"[NSF][A-Z0-9]{3}")  # N: non-SWIFT, S: SWIFT MT type, F: advice
_MARKS = ("RC", "RD", "C", "D")  # the two-letter marks first: `C` would match `RC`'s tail
_GERMAN = re.compile(r"\d{3}\?\d\d")
_SUBFIELD = re.compile(r"\?(\d\d)")
_SEPA_KEY = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")
_SLASHED = re.compile(r"/(EREF|RTRN)/([^/]+)")
_NONE = ("", "NONREF", "NOTPROVIDED")


@dataclass
class _Field:
    tag: str
    line: int
    lines: list[str]


def _fields(text: str) -> list[_Field]:
    """The tagged fields of the file, each with its continuation lines."""
    fields: list[_Field] = []
    current: _Field | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if "{4:" in line:  # the SWIFT text block opens; the header blocks before it go
            line = line.split("{4:", 1)[1]
        elif line.startswith("{"):
            continue
        # A message ends with `-}` or a lone `-`; SWIFT lets no field line start with `-`.
        if line == "-" or line.startswith("-}"):
            current = None
            continue
        match = _TAG.match(line)
        if match:
            current = _Field(match.group(1), number, [line[match.end():]])
            fields.append(current)
        elif current is not None and line:
            current.lines.append(line)
    return fields


def iban_of_account(text: str) -> str | None:
    """The IBAN a `:25:` field names, if it names one."""
    compact = "".join(text.split()).upper()
    for part in (compact, *compact.split("/")):
        for candidate in (part, part[:-3]):
            if candidate and iban_check.is_valid(candidate):
                return str(iban_check.compact(candidate))
    return None


def _information(lines: list[str]) -> tuple[str, list[str], str | None]:
    """The `:86:` text, its references (EREF, KREF) and the return reason it gives."""
    references: list[str] = []
    reason: str | None = None
    raw = "".join(lines)
    if _GERMAN.match(raw) or "?20" in raw:
        parts = _SUBFIELD.split(raw)
        sub: dict[str, str] = {}
        for code, value in zip(parts[1::2], parts[2::2], strict=True):
            sub[code] = sub.get(code, "") + value
        purpose = "".join(sub.get(str(n), "") for n in (*range(20, 30), *range(60, 64)))
        keyed = _SEPA_KEY.split(purpose)
        for key, value in zip(keyed[1::2], keyed[2::2], strict=True):
            if key in ("EREF", "KREF") and value.strip() not in _NONE:
                references.append(value.strip())
        # `EREF+E2E-1SVWZ+FA-1`: each key starts a part; `EREF: E2E-1 SVWZ: FA-1` reads.
        spaced = _SEPA_KEY.sub(lambda match: f" {match.group(1)}: ", purpose)
        text = " ".join(part.strip() for part in (
            sub.get("00", ""), spaced, sub.get("32", "") + sub.get("33", "")) if part.strip())
    else:
        text = " ".join(line.strip() for line in lines if line.strip())
    for key, value in _SLASHED.findall(text):
        value = value.strip()
        if key == "EREF" and value not in _NONE:
            references.append(value)
        elif key == "RTRN" and value:
            reason = reason or value
    return text, references, reason


@dataclass
class _Line:
    """A `:61:` statement line, and the `:86:` that may follow it."""

    line: int
    index: int
    booked_on: dt.date
    mark: str
    amount: Decimal
    type_code: str
    customer_ref: str
    bank_ref: str
    details: str
    information: list[str] = field(default_factory=list)


@dataclass
class _Statement:
    line: int
    reference: str
    number: str = ""
    iban: str | None = None
    currency: str | None = None
    lines: int = 0
    currency_reported: bool = False


class _Reader:
    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.entries: list[BankEntry] = []
        self.statement: _Statement | None = None
        self.pending: _Line | None = None

    def fail(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, message, "line"))

    def flush(self) -> None:
        pending, statement = self.pending, self.statement
        self.pending = None
        if pending is None or statement is None or statement.currency is None:
            return
        returned_item = pending.type_code[1:] == "RTI"
        if pending.mark == "C" and not returned_item:
            kind = EntryKind.CREDIT
        elif pending.mark == "RC" or (pending.mark == "D" and returned_item):
            kind = EntryKind.RETURN
        else:
            return
        text, references, reason = _information(pending.information)
        text = " ".join(part for part in (pending.details, text) if part)
        customer = pending.customer_ref if pending.customer_ref.upper() not in _NONE else ""
        bank_ref = pending.bank_ref if pending.bank_ref.upper() not in _NONE else (
            f"mt940:{statement.reference}:{statement.number}:{pending.index}")
        returned = kind is EntryKind.RETURN
        # `50,` is 50.00: written with the currency's decimals, as the other formats give.
        amount = pending.amount.quantize(Decimal(1).scaleb(-minor_units(statement.currency)))
        self.entries.append(BankEntry(
            number=pending.line, kind=kind, account_iban=statement.iban,
            booked_on=pending.booked_on, amount=amount, currency=statement.currency,
            bank_ref=bank_ref, candidates=candidates_of([customer, *references], text),
            text=text,
            original_ref=(next(iter(references), None) or customer or None) if returned
            else None,
            return_reason=reason if returned else None))

    def balance(self, item: _Field) -> None:
        statement = self.statement
        content = item.lines[0].strip()
        column = f":{item.tag}:"
        match = _BALANCE.fullmatch(content)
        currency = content[7:10]
        if not (len(currency) == 3 and currency.isascii() and currency.isalpha()
                and currency.isupper()):
            if statement is not None:  # said once: its entries need not say it again
                statement.currency_reported = True
            self.fail(item.line, _("{field} currency").format(field=column), _(
                "{value!r} has no currency code after its date: write C or D, YYMMDD, the "
                "currency and the amount (C261120EUR1250,00)").format(value=content))
            return
        if match is None:
            self.fail(item.line, column, _(
                "{value!r} is not a balance: C or D, YYMMDD, the currency and the amount "
                "(C261120EUR1250,00)").format(value=content))
        elif _date(match.group(2)) is None:
            self.fail(item.line, _("{field} date").format(field=column), _(
                "{value!r} is not a day of the calendar (YYMMDD)").format(value=match.group(2)))
        if statement is not None:
            statement.currency = currency

    def statement_line(self, item: _Field) -> None:
        statement = self.statement
        if statement is None:
            self.fail(item.line, ":20:", _("a :61: entry outside a statement: no :20: before "
                                           "it"))
            return
        statement.lines += 1
        if statement.currency is None and not statement.currency_reported:
            statement.currency_reported = True
            self.fail(item.line, ":60F:", _(
                "the statement of line {line} has no opening balance (:60F: or :60M:) before "
                "its entries, so no currency").format(line=statement.line))
        self.pending = self.parse_line(item, statement)

    def parse_line(self, item: _Field, statement: _Statement) -> _Line | None:
        body = item.lines[0]
        value_text, rest = body[:6], body[6:]
        value_date = _date(value_text)
        if value_date is None:
            self.fail(item.line, _(":61: value date"), _(
                "{value!r} is not a date (YYMMDD)").format(value=value_text))
            return None
        booked_on = value_date
        if rest[:4].isdigit():
            booked_on_or_none = _entry_date(value_date, rest[:4])
            if booked_on_or_none is None:
                self.fail(item.line, _(":61: entry date"), _(
                    "{value!r} is not a date (MMDD)").format(value=rest[:4]))
                return None
            booked_on, rest = booked_on_or_none, rest[4:]
        mark = next((mark for mark in _MARKS if rest.startswith(mark)), None)
        if mark is None:
            self.fail(item.line, _(":61: mark"), _(
                "{value!r} is not a debit/credit mark (C, D, RC, RD)").format(value=rest[:2]))
            return None
        rest = rest[len(mark):]
        if rest[:1].isalpha():  # the funds code, the third letter of a currency code
            rest = rest[1:]
        # The amount runs up to the transaction type, which starts with a letter.
        end = next((at for at, char in enumerate(rest) if char.isalpha()), len(rest))
        amount_text, rest = rest[:end], rest[end:]
        if not _AMOUNT.fullmatch(amount_text) or len(amount_text) > 15:
            shown = amount_text or rest[:15]
            self.fail(item.line, _(":61: amount"), _(
                "{value!r} is not an amount (digits and a decimal comma: 1250,00)").format(
                    value=shown))
            return None
        amount = Decimal(amount_text.replace(",", "."))
        decimals = -int(amount.as_tuple().exponent)
        if statement.currency is not None and decimals > minor_units(statement.currency):
            self.fail(item.line, _(":61: amount"), _(
                "{value!r} has more than {decimals} decimals for {currency}").format(
                    value=amount_text, decimals=minor_units(statement.currency),
                    currency=statement.currency))
            return None
        type_code = rest[:4]
        if not _TYPE.fullmatch(type_code):
            self.fail(item.line, _(":61: type"), _(
                "{value!r} is not a transaction type (N, S or F and three characters: NTRF)")
                .format(value=type_code))
            return None
        customer, _slashes, bank = rest[4:].partition("//")
        if amount == 0:
            return None
        return _Line(item.line, statement.lines, booked_on, mark, amount, type_code,
                     customer.strip(), bank.strip(),
                     " ".join(line.strip() for line in item.lines[1:]))

    def field(self, item: _Field) -> None:
        if item.tag == "86":
            if self.pending is not None:
                self.pending.information.extend(item.lines)
            return
        self.flush()
        if item.tag == "20":
            self.statement = _Statement(item.line, item.lines[0].strip())
        elif self.statement is None:
            return  # a tag before any statement: nothing to attach it to
        elif item.tag == "25":
            self.statement.iban = iban_of_account(" ".join(item.lines))
        elif item.tag in ("28C", "28"):
            self.statement.number = item.lines[0].strip()
        elif item.tag in ("60F", "60M"):
            self.balance(item)
        elif item.tag == "61":
            self.statement_line(item)


def _date(text: str) -> dt.date | None:
    if len(text) != 6 or not text.isdigit():
        return None
    try:
        return dt.date(two_digit_year(int(text[:2])), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


def _entry_date(value_date: dt.date, text: str) -> dt.date | None:
    """The entry date MMDD, in the year that puts it nearest the value date."""
    candidates: list[dt.date] = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(dt.date(year, int(text[:2]), int(text[2:])))
        except ValueError:
            continue
    return min(candidates, key=lambda day: abs((day - value_date).days), default=None)


def read_mt940(path: Path) -> tuple[list[BankEntry], list[RowError]]:
    """The credits and returns of an MT940 file, and its faulty lines."""
    fields = _fields(read_text(path))
    if not any(item.tag == "20" for item in fields):
        raise UsageError(_("{label}: not an MT940 statement (no :20: field)").format(
            label=path.name))
    reader = _Reader()
    for item in fields:
        reader.field(item)
    reader.flush()
    return unique_refs(reader.entries), reader.errors
