"""Reading amounts as users type them, exactly: French and international notations.

Accepted: `1234.56`, `1234,56`; thousands grouped by a space, a no-break space (U+00A0)
or a narrow no-break space (U+202F) — `1 234,56`, `18 900.00`; or by the other mark
when both appear — `1.234,56`, `1,234.56` (the last mark is the decimal one); a mark
repeated between groups of three digits groups thousands (`1,234,567`). A single mark
with one to three digits before it (other than a lone `0`) and exactly three after it
(`1,250`, `12.500`) could be either: it is refused unless the caller says which mark is
the decimal one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from relance.kernel.i18n import _

SPACES = (" ", "\u00a0", "\u202f")
DECIMAL_MARKS = (".", ",")

_DIGITS = re.compile(r"\d+")
_PLAIN = re.compile(r"-?\d+(?:\.\d{1,2})?")
_GROUPED = re.compile(r"\d{1,3}(?:X\d{3})+")  # X stands for the grouping mark


class AmountError(ValueError):
    """The text is not an amount; the message says why, in words a user can act on."""


def _grouped(text: str, mark: str) -> bool:
    return _GROUPED.fullmatch(text.replace(mark, "X")) is not None


def _number(sign: str, integer: str, fraction: str) -> Decimal:
    try:
        return Decimal(f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}")
    except InvalidOperation as exc:  # pragma: no cover - the patterns only let digits in
        raise AmountError(_("is not a number")) from exc


def parse_amount(raw: str, *, decimal_mark: str | None = None) -> Decimal:
    """The exact value of `raw`, or AmountError.

    `decimal_mark` ("." or ",") settles the ambiguous single-mark case (`1,250`) only;
    every other notation is read the same whatever it says.
    """
    if decimal_mark is not None and decimal_mark not in DECIMAL_MARKS:
        raise ValueError(f"decimal mark must be '.' or ',', not {decimal_mark!r}")
    if _PLAIN.fullmatch(raw):  # the common `1234.56`, read at once
        return Decimal(raw)
    text = raw.strip()
    for space in SPACES:
        text = text.replace(space, " ")
    sign = ""
    if text and text[0] in "+-":
        sign = "-" if text[0] == "-" else ""
        text = text[1:].strip()
    elif text.endswith("-"):  # some ERPs print credit notes as `120,00-`
        sign = "-"
        text = text[:-1].strip()
    if not text:
        raise AmountError(_("is empty") if not sign else _("has a sign but no digits"))
    if " " in text:
        groups = text.split(" ")
        head, tail = groups[0], groups[-1]
        # The last group may carry the decimal part: `1 234,56`.
        last_digits, _mark, fraction = (tail.partition(",") if "," in tail
                                    else tail.partition("."))
        body = [*groups[:-1], last_digits]
        if (not all(_DIGITS.fullmatch(g) for g in body) or not 1 <= len(head) <= 3
                or any(len(g) != 3 for g in body[1:])):
            raise AmountError(_("has digits grouped oddly (thousands go by three)"))
        if fraction and not _DIGITS.fullmatch(fraction):
            raise AmountError(_("is not a number"))
        if "," in last_digits or "." in last_digits or ("," in tail and "." in tail):
            raise AmountError(_("mixes separators"))
        return _number(sign, "".join(body), fraction)
    has_comma, has_dot = "," in text, "." in text
    if has_comma and has_dot:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        integer, _mark, fraction = text.rpartition(decimal)
        if decimal in integer or not _grouped(integer, grouping):
            raise AmountError(_("has digits grouped oddly around {mark!r}").format(
                mark=grouping))
        if not _DIGITS.fullmatch(fraction):
            raise AmountError(_("is not a number"))
        return _number(sign, integer.replace(grouping, ""), fraction)
    if not has_comma and not has_dot:
        if not _DIGITS.fullmatch(text):
            raise AmountError(_("is not a number"))
        return _number(sign, text, "")
    mark = "," if has_comma else "."
    if text.count(mark) > 1:
        if not _grouped(text, mark):
            raise AmountError(_("has {mark!r} more than once but not between thousands")
                              .format(mark=mark))
        return _number(sign, text.replace(mark, ""), "")
    integer, _mark, fraction = text.partition(mark)
    if not _DIGITS.fullmatch(fraction) or (integer and not _DIGITS.fullmatch(integer)):
        raise AmountError(_("is not a number"))
    if not integer:
        return _number(sign, "0", fraction)
    if len(fraction) == 3 and 1 <= len(integer) <= 3 and integer != "0":
        if decimal_mark is None:
            raise AmountError(_(
                "is ambiguous: {mark!r} may be a decimal mark or a thousands separator; "
                "declare decimal_mark in a mapping file (--mapping)").format(mark=mark))
        if decimal_mark != mark:
            return _number(sign, integer + fraction, "")
    return _number(sign, integer, fraction)
