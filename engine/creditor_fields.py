"""The fields of a creditor's identity, each with how it is checked and which messages
need it.

One table, `FIELDS`, describes them all: the command line's options, `creditors.toml`'s
keys, the desk's form and the dispatch's refusal (`missing_identity`) are read from it,
so a field is added in one place. `check_fields` turns what a person typed (text, lists
of lines, yes/no) into what the store keeps, or refuses the first bad value naming the
field (`--siren: '123' is not a SIREN: …`).

What each channel needs before anything is rendered (`CHANNEL_NEEDS`):

- a letter: the legal name, the address, the SIREN (a company's letters carry them) and
  the IBAN (the letter says how to pay);
- an e-mail: the legal name, the sender address (`[smtp] from` of relance.toml stands in
  for a creditor without one), the address and the SIREN;
- an SMS: the legal name (160 characters carry no more);
- a notice to a sales representative (`notify`): nothing, it stays inside the company.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, SUPPORTED, _
from relance.kernel.identifiers import (
    InvalidIdentifier,
    check_bic,
    check_email,
    check_iban,
    check_siren,
    check_siret,
    check_vat,
)
from relance.store.models import Creditor

# A logo is printed at the top of every letter and fetched for every PDF: a few hundred
# KiB is plenty for a PNG or an SVG at print size, and a bigger file slows every letter.
LOGO_MAX_BYTES = 512 * 1024


class Kind(enum.Enum):
    """How a value is typed: one line, several lines, yes/no, or a list of words."""

    TEXT = "text"
    LINES = "lines"
    FLAG = "flag"
    WORDS = "words"


class FieldRefused(UsageError):
    """A field's value is refused; `field` says which, `problem` why (translated)."""

    def __init__(self, field: CreditorField, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(_("{option}: {problem}").format(option=field.option,
                                                          problem=problem))


@dataclass(frozen=True)
class Context:
    """What some checks need beyond the value: the workspace (the logo lives in it) and
    the SIREN the SIRET must start with."""

    root: Path | None = None
    siren: str | None = None
    country: str = "FR"


Check = Callable[[Any, Context], Any]


@dataclass(frozen=True)
class CreditorField:
    key: str  # creditors.toml's key and the desk's field name
    column: str  # the attribute of store.models.Creditor
    label: str  # as a person names it (N_: translated where shown)
    option: str  # the command line's option
    kind: Kind
    check: Check
    required: bool = False  # a creditor cannot exist without it (its name)
    # Text columns the store keeps as "" rather than NULL when empty.
    empty: Any = None

    @property
    def shown_label(self) -> str:
        return _(self.label)


# ---------------------------------------------------------------- the checks


def _text(value: Any, _context: Context) -> str | None:
    return value or None


def _identifier(check: Callable[[str], str]) -> Check:
    def checked(value: Any, _context: Context) -> str | None:
        if not value:
            return None
        try:
            return check(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None
    return checked


def _siret(value: Any, context: Context) -> str | None:
    if not value:
        return None
    try:
        return check_siret(value, siren=context.siren)
    except InvalidIdentifier as exc:
        raise ValueError(str(exc)) from None


def _country(value: Any, _context: Context) -> str:
    from babel import Locale

    code = str(value or "").strip().upper()
    if len(code) != 2 or code == "ZZ" or code not in Locale("en").territories:
        raise ValueError(_("{value!r} is not a country code (two letters: FR, BE, CH…)")
                         .format(value=value))
    return code


def _phone(value: Any, context: Context) -> str | None:
    if not value:
        return None
    import phonenumbers

    try:
        number = phonenumbers.parse(value, context.country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(_("{value!r} is not a telephone number").format(value=value))
    return str(phonenumbers.format_number(number,
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def _languages(value: Any, _context: Context) -> list[str]:
    words = [word.lower() for word in value]
    if not words:
        raise ValueError(_("give at least one language ({known})").format(
            known=", ".join(SUPPORTED)))
    for word in words:
        if word not in SUPPORTED:
            raise ValueError(_("{value!r} is not a language relance writes in (known: "
                               "{known})").format(value=word, known=", ".join(SUPPORTED)))
    return list(dict.fromkeys(words))


def _segments(value: Any, _context: Context) -> list[str]:
    return list(dict.fromkeys(value))


def _calendar_region(value: Any, _context: Context) -> str | None:
    if not value:
        return None
    import holidays

    known = holidays.country_holidays("FR").subdivisions
    for region in known:
        if region.lower() == value.lower():
            return str(region)
    raise ValueError(_("{value!r} is not a region of the French calendar (known: {known})")
                     .format(value=value, known=", ".join(known)))


def _rate(value: Any, _context: Context) -> str | None:
    if not value:
        return None
    try:
        rate = Decimal(str(value).strip().removesuffix("%").strip().replace(",", "."))
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not Decimal(0) < rate < Decimal(100):
        raise ValueError(_("{value!r} is not an annual rate in percent (above 0, below 100: "
                           "12.5)").format(value=value))
    return str(rate.normalize() if rate == rate.to_integral() else rate)


def _flag(value: Any, _context: Context) -> bool:
    return bool(value)


# What a logo file starts with: checked on the bytes, since a name proves nothing.
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_SVG_START = re.compile(rb"^(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*"
                        rb"(<!DOCTYPE[^>]*>\s*)?<svg[\s>]", re.DOTALL | re.IGNORECASE)


def logo_kind(head: bytes) -> str | None:
    """`png`, `jpeg` or `svg` from a file's first bytes; None for anything else."""
    if head.startswith(_PNG):
        return "png"
    if head.startswith(_JPEG):
        return "jpeg"
    if _SVG_START.match(head):
        return "svg"
    return None


def _logo(value: Any, context: Context) -> str | None:
    if not value:
        return None
    if context.root is None:
        raise ValueError(_("a logo needs a workspace to live in"))
    root = context.root.resolve()
    given = Path(value)
    path = (given if given.is_absolute() else root / given).resolve()
    if not path.is_relative_to(root):
        raise ValueError(_("{path} is outside the workspace {root}: copy the logo into it "
                           "(assets/ for instance)").format(path=value, root=root))
    if not path.is_file():
        raise ValueError(_("no file {path} in the workspace").format(path=value))
    size = path.stat().st_size
    if size > LOGO_MAX_BYTES:
        raise ValueError(_("{path} holds {size} KiB, more than the {most} KiB a logo may "
                           "hold").format(path=value, size=-(-size // 1024),
                                          most=LOGO_MAX_BYTES // 1024))
    with path.open("rb") as file:
        head = file.read(4096)
    if logo_kind(head) is None:
        raise ValueError(_("{path} is not a PNG, JPEG or SVG image").format(path=value))
    return path.relative_to(root).as_posix()


FIELDS: tuple[CreditorField, ...] = (
    CreditorField("name", "name", N_("legal name"), "--name", Kind.TEXT, _text,
                  required=True),
    CreditorField("siren", "siren", N_("SIREN"), "--siren", Kind.TEXT,
                  _identifier(check_siren)),
    CreditorField("siret", "siret", N_("SIRET"), "--siret", Kind.TEXT, _siret),
    CreditorField("vat", "vat_number", N_("VAT number"), "--vat", Kind.TEXT,
                  _identifier(check_vat)),
    CreditorField("address", "address", N_("address"), "--address", Kind.LINES, _text,
                  empty=""),
    CreditorField("country", "country", N_("country"), "--country", Kind.TEXT, _country),
    CreditorField("iban", "iban", N_("IBAN"), "--iban", Kind.TEXT, _identifier(check_iban)),
    CreditorField("bic", "bic", N_("BIC"), "--bic", Kind.TEXT, _identifier(check_bic)),
    CreditorField("email", "email", N_("sender e-mail"), "--email", Kind.TEXT,
                  _identifier(check_email)),
    CreditorField("sender_name", "sender_name", N_("sender name"), "--sender-name",
                  Kind.TEXT, _text),
    CreditorField("reply_to", "reply_to", N_("reply-to address"), "--reply-to", Kind.TEXT,
                  _identifier(check_email)),
    CreditorField("contact_email", "contact_email", N_("contact e-mail"), "--contact-email",
                  Kind.TEXT, _identifier(check_email)),
    CreditorField("phone", "phone", N_("telephone"), "--phone", Kind.TEXT, _phone),
    CreditorField("signature", "signature", N_("signature"), "--signature", Kind.LINES,
                  _text, empty=""),
    CreditorField("legal_footer", "legal_mentions", N_("legal footer"), "--legal-footer",
                  Kind.LINES, _text, empty=""),
    CreditorField("languages", "languages", N_("languages"), "--language", Kind.WORDS,
                  _languages),
    CreditorField("calendar_region", "calendar_region", N_("calendar region"),
                  "--calendar-region", Kind.TEXT, _calendar_region),
    CreditorField("logo", "logo_path", N_("logo"), "--logo", Kind.TEXT, _logo),
    CreditorField("late_penalties", "late_penalties", N_("late-payment penalties"),
                  "--penalties", Kind.FLAG, _flag),
    CreditorField("penalty_rate", "penalty_rate", N_("penalty rate"), "--penalty-rate",
                  Kind.TEXT, _rate),
    CreditorField("waive_penalties", "waive_penalties", N_("penalties waived"),
                  "--waive-penalties", Kind.FLAG, _flag),
    CreditorField("waive_segments", "waive_segments", N_("segments waived"),
                  "--waive-segment", Kind.WORDS, _segments),
)
BY_KEY: dict[str, CreditorField] = {field.key: field for field in FIELDS}

# What a message of each channel needs of its creditor (see the module's docstring).
CHANNEL_NEEDS: dict[str, tuple[str, ...]] = {
    "letter": ("name", "address", "siren", "iban"),
    "email": ("name", "email", "address", "siren"),
    "sms": ("name",),
}
CHANNELS = tuple(CHANNEL_NEEDS)


# ---------------------------------------------------------------- reading values

_YES = {"yes", "y", "true", "1", "on", "oui", "o", "vrai"}  # not for people: typed answers
_NO = {"no", "n", "false", "0", "off", "non", "faux", ""}  # not for people: typed answers


def _typed(field: CreditorField, value: Any) -> Any:
    """The value as its kind wants it: a stripped text, lines joined, a bool, a list."""
    if field.kind is Kind.FLAG:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise ValueError(_("{value!r} is neither yes nor no").format(value=value))
    if field.kind is Kind.WORDS:
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        if not all(isinstance(item, str) for item in items):
            raise ValueError(_("write a list of words"))
        return [item.strip() for item in items if item.strip()]
    if field.kind is Kind.LINES:
        if isinstance(value, list | tuple):
            if not all(isinstance(item, str) for item in value):
                raise ValueError(_("write one text per line"))
            lines: Sequence[str] = value
        elif isinstance(value, str):
            # `--address "12 rue X\n69002 Lyon"` in a shell passes a backslash and an n.
            lines = value.replace("\\n", "\n").splitlines()
        else:
            raise ValueError(_("write a text"))
        return "\n".join(line.strip() for line in lines if line.strip())
    if not isinstance(value, str):
        raise ValueError(_("write a text"))
    return value.strip()


def check_field(field: CreditorField, value: Any, context: Context) -> Any:
    """One field's value as the store keeps it; `FieldRefused` names the field."""
    try:
        typed = _typed(field, value)
        if field.required and not typed:
            raise ValueError(_("it cannot be empty"))
        checked = field.check(typed, context)
    except ValueError as exc:
        raise FieldRefused(field, str(exc)) from None
    most = _column_length(field.column)
    if isinstance(checked, str) and most is not None and len(checked) > most:
        raise FieldRefused(field, _("it holds {count} characters, more than the {most} "
                                    "kept").format(count=len(checked), most=most))
    return field.empty if checked is None and field.empty is not None else checked


def _column_length(column: str) -> int | None:
    """The longest text the store keeps in `column` (PostgreSQL refuses a longer one)."""
    length = getattr(Creditor.__table__.c[column].type, "length", None)
    return int(length) if length else None


def check_fields(values: Mapping[str, Any], *, root: Path | None = None,
                 siren: str | None = None, country: str | None = None) -> dict[str, Any]:
    """Fields by key (`siren`, `address`…) checked, as {column: stored value}.

    `siren` and `country` are the creditor's as stored, for a change that gives a SIRET
    or a telephone number without them. A key that is not a field is refused."""
    unknown = [key for key in values if key not in BY_KEY]
    if unknown:
        raise UsageError(unknown_field_message(unknown[0]))
    cleaned: dict[str, Any] = {}
    # The SIREN and the country first: the SIRET and the telephone are read with them.
    order = sorted(values, key=lambda key: key not in ("siren", "country"))
    context = Context(root=root, siren=siren, country=country or "FR")
    for key in order:
        field = BY_KEY[key]
        cleaned[field.column] = check_field(field, values[key], context)
        if key == "siren":
            context = Context(root=root, siren=cleaned["siren"], country=context.country)
        elif key == "country":
            context = Context(root=root, siren=context.siren, country=cleaned["country"])
    return cleaned


def unknown_field_message(key: str) -> str:
    from relance.kernel.config_table import did_you_mean

    known = ", ".join(BY_KEY)
    close = did_you_mean(key, BY_KEY)
    if close:
        return _("{key} is not a field of a creditor: did you mean {close}? (known: {known})"
                 ).format(key=key, close=close, known=known)
    return _("{key} is not a field of a creditor (known: {known})").format(key=key,
                                                                          known=known)


def stored_value(creditor: Any, field: CreditorField) -> Any:
    """The field's value on a creditor record (as stored)."""
    return getattr(creditor, field.column)


def missing_fields(creditor: Any, channel: str, *,
                   default_sender: str | None = None) -> list[CreditorField]:
    """The fields a message of `channel` needs and `creditor` lacks, in the table's order.
    A channel with no needs (a notice, a call) lacks nothing."""
    wanted = CHANNEL_NEEDS.get(channel, ())
    lacking = []
    for key in wanted:
        if key == "email" and default_sender:
            continue  # `[smtp] from` signs for a creditor without its own address
        field = BY_KEY[key]
        value = stored_value(creditor, field)
        if not (value.strip() if isinstance(value, str) else value):
            lacking.append(field)
    return lacking


__all__ = [
    "BY_KEY",
    "CHANNELS",
    "CHANNEL_NEEDS",
    "FIELDS",
    "LOGO_MAX_BYTES",
    "Context",
    "CreditorField",
    "FieldRefused",
    "Kind",
    "check_field",
    "check_fields",
    "logo_kind",
    "missing_fields",
    "stored_value",
    "unknown_field_message",
]
