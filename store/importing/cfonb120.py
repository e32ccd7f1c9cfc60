"""Reading a French CFONB 120 account statement ("relevé de compte", 120 characters).

Layout (CFONB, "Relevé de compte sur support informatique", July 2004); positions are
1-based and inclusive, as the brochure counts them:

    pos      01 old balance / 07 new balance   04 movement            05 complement
    1-2      record code                       record code            record code
    3-7      bank code                         bank code              bank code
    8-11     (blank)                           operation code (bank)  operation code
    12-16    branch (guichet)                  branch                 branch
    17-19    currency                          currency               currency
    20       number of decimals                number of decimals     number of decimals
    22-32    account number                    account number         account number
    33-34    (blank)                           interbank op. code     interbank op. code
    35-40    balance date DDMMYY               operation date DDMMYY  operation date
    41-42                                      rejection reason code
    43-48                                      value date DDMMYY
    46-48                                                             qualifier (LIB, RCN…)
    49-79                                      label                  } information,
    82-88                                      entry number           } 49-118
    89                                         exoneration code
    90                                         unavailability code
    91-104   balance                           amount
    105-120                                    reference

Amounts are 14 digits whose last one carries the sign ("overpunch"): `{` and `A`-`I`
are +0 to +9, `}` and `J`-`R` are -0 to -9; the decimals are those of position 20.

What is read: a positive movement is a CREDIT. A negative movement is a RETURN when its
rejection reason code (41-42) is filled: the interbank operation codes that name returned
direct debits and unpaid cheques come from a CFONB brochure we could not check, while the
reason code is filled only on rejected or returned operations, whatever their kind. Other
debits are left out, and so is a credit with a reason code (one of our own payments coming
back, not a customer paying). The 05 records that follow a movement complete it: `RCN`
(its first 35 characters are the end-to-end reference) and `REF` are references, tried
first as invoice numbers; the others (`LIB`, `LCC`, `NPY`…) are text; `FEE` and `MMO`
(amounts) are skipped.
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

WIDTH = 120
RECORD_CODES = ("01", "04", "05", "07")
_RECORD_START = re.compile(r"0[1457]\d{5}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# The overpunched last character: sign and last digit.
_OVERPUNCH = {
    **{char: (1, str(digit)) for digit, char in enumerate("{ABCDEFGHI")},
    **{char: (-1, str(digit)) for digit, char in enumerate("}JKLMNOPQR")},
}
# The RIB key weighs letters of an account number by this table (A and J are 1…).
_RIB_LETTERS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "12345678912345678923456789")
_AMOUNT_QUALIFIERS = ("FEE", "MMO")


def _field(line: str, start: int, end: int) -> str:
    """Positions `start` to `end` of the layout (1-based, inclusive)."""
    return line[start - 1:end]


def iban_of_rib(bank: str, branch: str, account: str) -> str | None:
    """The French IBAN of a bank, branch and account number, or None if malformed.

    The statement has no RIB key, but the key is a checksum of the three (97 minus
    89·bank + 15·branch + 3·account, modulo 97), so the IBAN follows. A Monaco account
    (MC) is laid out the same and would get an FR IBAN that matches no creditor.
    """
    account = account.upper()
    if not (bank.isdigit() and len(bank) == 5 and branch.isdigit() and len(branch) == 5
            and len(account) == 11 and account.isascii() and account.isalnum()):
        return None
    digits = int(account.translate(_RIB_LETTERS))
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * digits) % 97
    bban = f"{bank}{branch}{account}{key:02d}"
    numeric = "".join(str(int(char, 36)) for char in f"{bban}FR00")
    candidate = f"FR{98 - int(numeric) % 97:02d}{bban}"
    return candidate if iban_check.is_valid(candidate) else None


@dataclass
class _Movement:
    """A 04 record, completed by the 05 records that follow it."""

    line: int
    account: str  # bank + branch + account number: the account's identity in the file
    iban: str | None
    booked_on: dt.date
    amount: Decimal  # signed
    currency: str
    rejection: str
    number: str
    reference: str
    label: str
    references: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    end_to_end: str | None = None

    def entry(self) -> BankEntry | None:
        if self.amount > 0 and not self.rejection:
            kind = EntryKind.CREDIT
        elif self.amount < 0 and self.rejection:
            kind = EntryKind.RETURN
        else:
            return None
        text = " ".join(part for part in (self.label, *self.texts) if part)
        bank_ref = (f"cfonb:{self.account}:{self.booked_on.isoformat()}:{self.number}:"
                    f"{self.reference}:{self.amount}")
        returned = kind is EntryKind.RETURN
        return BankEntry(
            number=self.line, kind=kind, account_iban=self.iban, booked_on=self.booked_on,
            amount=abs(self.amount), currency=self.currency, bank_ref=bank_ref,
            candidates=candidates_of([*self.references, self.reference], text), text=text,
            original_ref=(self.end_to_end or self.reference or None) if returned else None,
            return_reason=self.rejection if returned else None)


@dataclass
class _Opening:
    """The 01 record of the statement being read."""

    line: int
    account: str
    currency: str | None


class _Reader:
    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.entries: list[BankEntry] = []
        self.movement: _Movement | None = None
        # A faulty movement's complements are not reported again as orphans.
        self.after_faulty = False
        self.opening: _Opening | None = None

    def fail(self, line: int, column: str, message: str) -> None:
        self.errors.append(RowError(line, column, message, "line"))

    def flush(self) -> None:
        if self.movement is not None:
            entry = self.movement.entry()
            if entry is not None:
                self.entries.append(entry)
        self.movement = None

    def date(self, number: int, column: str, text: str) -> dt.date | None:
        if not text.isdigit() or len(text) != 6:
            self.fail(number, column, _("{value!r} is not a date (DDMMYY)").format(value=text))
            return None
        try:
            return dt.date(two_digit_year(int(text[4:])), int(text[2:4]), int(text[:2]))
        except ValueError:
            self.fail(number, column, _("{value!r} is not a day of the calendar (DDMMYY)")
                      .format(value=text))
            return None

    def currency(self, number: int, line: str) -> tuple[str | None, int | None]:
        """The record's currency and its decimals, when they agree."""
        currency, decimals = _field(line, 17, 19), _field(line, 20, 20)
        if not _CURRENCY.fullmatch(currency):
            self.fail(number, _("currency"), _("{value!r} is not a currency code").format(
                value=currency))
            return None, None
        if not decimals.isdigit():
            self.fail(number, _("decimals"), _("{value!r} is not a number of decimals").format(
                value=decimals))
            return currency, None
        if int(decimals) != minor_units(currency):
            self.fail(number, _("decimals"), _("{currency} has {decimals} decimals, not "
                                              "{written}").format(
                currency=currency, decimals=minor_units(currency), written=decimals))
            return currency, None
        return currency, int(decimals)

    def amount(self, number: int, line: str, decimals: int | None) -> Decimal | None:
        text = _field(line, 91, 104)
        digits, last = text[:-1], text[-1:]
        if not (digits.isdigit() and digits.isascii()):
            self.fail(number, _("amount"), _("{value!r} is not an amount: positions 91-103 "
                                            "must be digits").format(value=text))
            return None
        if last not in _OVERPUNCH:
            self.fail(number, _("amount"), _(
                "{value!r} is not an amount: its last character {last!r} is not a sign code "
                "({{ A-I, }} J-R)").format(value=text, last=last))
            return None
        if decimals is None:
            return None
        sign, digit = _OVERPUNCH[last]
        return Decimal(sign * int(digits + digit)).scaleb(-decimals)

    def balance(self, number: int, line: str) -> None:
        """A 01 or 07 record: checked, and the statement it opens or closes."""
        code = line[:2]
        account = _field(line, 3, 7) + _field(line, 12, 16) + _field(line, 22, 32)
        currency, decimals = self.currency(number, line)
        self.date(number, _("date"), _field(line, 35, 40))
        self.amount(number, line, decimals)
        if code == "01":
            self.opening = _Opening(number, account, currency)
            return
        if self.opening is not None and self.opening.account != account:
            self.fail(number, _("account"), _(
                "the new balance is for account {account}, the old one (line {line}) for "
                "{other}").format(account=account.strip(), line=self.opening.line,
                                  other=self.opening.account.strip()))
        self.opening = None

    def movement_record(self, number: int, line: str) -> None:
        bank, branch, account = _field(line, 3, 7), _field(line, 12, 16), _field(line, 22, 32)
        key = bank + branch + account
        before = len(self.errors)
        currency, decimals = self.currency(number, line)
        booked_on = self.date(number, _("date"), _field(line, 35, 40))
        value_date = _field(line, 43, 48)
        if value_date.strip():
            self.date(number, _("value date"), value_date)
        amount = self.amount(number, line, decimals)
        opening = self.opening
        if opening is not None and opening.account != key:
            self.fail(number, _("account"), _(
                "the movement is for account {account}, the statement (line {line}) for "
                "{other}").format(account=key.strip(), line=opening.line,
                                  other=opening.account.strip()))
        elif (opening is not None and opening.currency is not None and currency is not None
              and currency != opening.currency):
            self.fail(number, _("currency"), _(
                "{currency} is not the statement's currency {other} (line {line})").format(
                    currency=currency, other=opening.currency, line=opening.line))
        if len(self.errors) > before or booked_on is None or amount is None \
                or currency is None:
            self.after_faulty = True
            return
        self.movement = _Movement(
            line=number, account=key, iban=iban_of_rib(bank, branch, account),
            booked_on=booked_on, amount=amount, currency=currency,
            rejection=_field(line, 41, 42).strip(), number=_field(line, 82, 88).strip(),
            reference=_field(line, 105, 120).strip(), label=_field(line, 49, 79).strip())

    def complement(self, number: int, line: str) -> None:
        movement = self.movement
        if movement is None:
            if not self.after_faulty:
                self.fail(number, _("record code"), _("a 05 complement must follow a 04 "
                                                      "movement"))
            return
        key = _field(line, 3, 7) + _field(line, 12, 16) + _field(line, 22, 32)
        if key != movement.account:
            self.fail(number, _("account"), _(
                "the complement is for account {account}, its movement (line {line}) for "
                "{other}").format(account=key.strip(), line=movement.line,
                                  other=movement.account.strip()))
            return
        qualifier, information = _field(line, 46, 48), _field(line, 49, 118)
        if qualifier == "RCN":
            end_to_end = information[:35].strip()
            if end_to_end:
                movement.references.append(end_to_end)
                movement.end_to_end = movement.end_to_end or end_to_end
            movement.texts.append(information[35:].strip())
        elif qualifier == "REF":
            movement.references.append(information.strip())
        elif qualifier not in _AMOUNT_QUALIFIERS:
            movement.texts.append(information.strip())

    def record(self, number: int, line: str) -> None:
        code = line[:2]
        if code != "05":
            self.flush()
            self.after_faulty = False
        if len(line) != WIDTH:
            self.fail(number, _("length"), _("has {count} characters; a CFONB 120 record has "
                                            "{width}").format(count=len(line), width=WIDTH))
            self.movement = None
            self.after_faulty = True
            return
        if code not in RECORD_CODES:
            self.fail(number, _("record code"), _(
                "{value!r} is not a CFONB 120 record code (01, 04, 05, 07)").format(value=code))
            self.movement = None
            self.after_faulty = True
        elif code == "04":
            self.movement_record(number, line)
        elif code == "05":
            self.complement(number, line)
        else:
            self.balance(number, line)


def read_cfonb120(path: Path) -> tuple[list[BankEntry], list[RowError]]:
    """The credits and returns of a CFONB 120 file, and its faulty lines."""
    lines = read_text(path).split("\n")
    if not any(_RECORD_START.match(line) for line in lines):
        raise UsageError(_("{label}: not a CFONB 120 statement (no 01, 04, 05 or 07 record)")
                         .format(label=path.name))
    reader = _Reader()
    for number, line in enumerate(lines, start=1):
        if line.strip():
            reader.record(number, line)
    reader.flush()
    return unique_refs(reader.entries), reader.errors
