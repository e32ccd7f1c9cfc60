"""Company and bank identifiers, checked once: SIREN, SIRET, VAT number, IBAN, BIC, e-mail.

Each `check_*` returns the identifier in its stored form (compact, upper case) or raises
`InvalidIdentifier` whose message says what is wrong, translated; the caller names the
file, the row or the option around it. python-stdnum does the arithmetic (Luhn for
SIREN/SIRET, the mod-97 of IBANs, each EU country's VAT rules), so a typo in one digit is
caught before a letter carries it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from relance.kernel.i18n import _

# python-stdnum is imported when an identifier is checked: every command reads the
# settings, which name these checks, and most never run one.
if TYPE_CHECKING:
    from stdnum.exceptions import ValidationError as StdnumError

# Good enough to catch a missing @ or a space; the SMTP server has the last word.
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


class InvalidIdentifier(ValueError):
    """An identifier that fails its format or its check digits."""


def _why(exc: StdnumError) -> str:
    from stdnum.exceptions import (
        InvalidChecksum,
        InvalidComponent,
        InvalidFormat,
        InvalidLength,
    )

    if isinstance(exc, InvalidChecksum):
        return _("its check digits are wrong")
    if isinstance(exc, InvalidLength):
        return _("it has the wrong number of characters")
    if isinstance(exc, InvalidFormat):
        return _("it is not written as expected")
    if isinstance(exc, InvalidComponent):
        return _("a part of it does not exist")
    return _("it is not valid")


def _validated(validate: Callable[[str], object], value: str, refusal: str) -> str:
    """`validate(value)` in its compact form, or `refusal` (translated by the caller,
    with `{value}` and `{why}`) as an `InvalidIdentifier`."""
    from stdnum.exceptions import ValidationError as StdnumError

    try:
        return str(validate(value))
    except StdnumError as exc:
        raise InvalidIdentifier(refusal.format(value=value, why=_why(exc))) from None


def check_siren(value: str) -> str:
    """A French company number, 9 digits with a Luhn key."""
    from stdnum.fr import siren as stdnum_siren

    return _validated(stdnum_siren.validate, value, _("{value!r} is not a SIREN: {why}"))


def check_siret(value: str, *, siren: str | None = None) -> str:
    """An establishment number, 14 digits; its first nine are the SIREN when one is known."""
    from stdnum.fr import siren as stdnum_siren
    from stdnum.fr import siret as stdnum_siret

    compact = _validated(stdnum_siret.validate, value, _("{value!r} is not a SIRET: {why}"))
    if siren and compact[:9] != stdnum_siren.compact(siren):
        raise InvalidIdentifier(_("SIRET {value} does not start with the SIREN {siren}")
                                .format(value=compact, siren=siren))
    return compact


def check_vat(value: str) -> str:
    """An EU VAT number with its country prefix (FR73832917454)."""
    from stdnum.eu import vat as stdnum_vat

    return _validated(stdnum_vat.validate, value, _("{value!r} is not a VAT number: {why}"))


def check_iban(value: str) -> str:
    from stdnum import iban as stdnum_iban

    return _validated(stdnum_iban.validate, value, _("{value!r} is not an IBAN: {why}"))


def check_bic(value: str) -> str:
    from stdnum import bic as stdnum_bic

    return _validated(stdnum_bic.validate, value, _("{value!r} is not a BIC: {why}"))


def check_email(value: str) -> str:
    text = value.strip()
    if not _EMAIL.match(text):
        raise InvalidIdentifier(_("{value!r} is not an e-mail address").format(value=value))
    return text


def email_domain(address: str | None) -> str | None:
    """The domain of an address, lower case (`ab@Firm.fr` -> `firm.fr`)."""
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().lower() or None
