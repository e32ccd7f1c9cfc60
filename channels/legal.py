"""What a letter may say in law depends on who the debtor is: the rule, in one place.

- A consumer owes no L441-10 late-payment penalties and no 40 EUR recovery indemnity
  (D441-5): both exist only between professionals.
- Collection fees cannot be charged to a consumer without a court title (CPCE L111-8):
  a consumer letter never speaks of "frais de recouvrement" or "frais de dossier".
- A formal notice makes a sum of money bear interest at the legal rate (Code civil
  1344-1), so from the formal notice on a consumer letter says so. Of the two legal rates
  (Code monétaire et financier L313-2) the creditor's status picks one: relance's
  creditors are companies, which claim the "autres cas" rate from consumers too.

The creditor's legal mentions (the letter's footer, the e-mail's signature) follow the
same rule. `Creditor.legal_mentions` is printed for every debtor; the creditor's
`settings` may add `legal_mentions_b2b` (printed only to businesses: the penalty clause
belongs there) and `legal_mentions_b2c` (printed only to consumers: the consumer
mediator, say). A sentence of the general mentions that speaks of penalties, the
indemnity or collection fees is left out of a consumer's letter, with a warning on the
action, so that a creditor who wrote its clause into the general text still never shows
it to a consumer.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from relance.channels.agency_law import without_quoted_law
from relance.engine.penalties import (
    HalfYear,
    RateTable,
    format_half_year,
    half_year_of,
    legal_rate,
)
from relance.store.models import Creditor, Debtor

# Segments that name private persons. The import keeps the flag and the segment apart
# and a file may fill one and not the other: either makes the debtor a consumer, the
# safe reading, since taking a business for a consumer only forgoes penalties while the
# reverse claims what the law forbids.
CONSUMER_SEGMENTS = frozenset({"individual", "consumer"})

# Templates that are the formal notice: the legal interest runs from them.
FORMAL_NOTICE_TEMPLATES = frozenset({"mise_en_demeure"})

B2B_MENTIONS_KEY = "legal_mentions_b2b"
B2C_MENTIONS_KEY = "legal_mentions_b2c"

# What no text sent to a consumer may carry; a rendered consumer letter, e-mail or SMS
# that does is refused (see `consumer_terms`). Only words, not "40 €": a consumer may
# well owe exactly 40 EUR of principal.
_CONSUMER_FORBIDDEN = re.compile(
    r"""
      \b[ld]\s?\.?\s?441-(?:10|5)\b        # L441-10, D441-5 and their spellings
    | p[ée]nalit[ée]s?\s+de\s+retard
    | indemnit[ée]s?\s+forfaitaires?
    | frais\s+de\s+recouvrement
    | frais\s+de\s+dossier
    | recovery\s+costs?
    | fixed\s+compensation
    | late[-\s]payment\s+penalt(?:y|ies)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# A sentence of a creditor's legal mentions that belongs to business letters only:
# the words above, and the clause's usual figures (penalties at the ECB rate, 40 EUR).
_B2B_SENTENCE = re.compile(
    _CONSUMER_FORBIDDEN.pattern
    + r"""
    | p[ée]nalit[ée]
    | penalt(?:y|ies)
    | \bBCE\b | \bECB\b | taux\s+de\s+refinancement
    | (?<!\d)(?<!\d[\s.,])40(?:[,.]00)?\s?(?:€|euros?\b|EUR\b)
    | €\s?40(?:\.00)?(?![\d,])
    """,
    re.IGNORECASE | re.VERBOSE,
)

# A sentence ends at . ! ? followed by a capital, a digit or an opening mark, except
# after the abbreviations legal text is full of ("art. L441-10", "al. 2", "cf. ").
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<![Aa]rt\.)(?<![Aa]l\.)(?<![Cc]f\.)\s+(?=[A-ZÀ-ÖØ-Þ0-9«\"(])")


def is_consumer(debtor: Debtor) -> bool:
    """Whether `debtor` is a consumer in law: its flag, or a consumer segment."""
    segment = (debtor.segment or "").strip().lower()
    return bool(debtor.is_consumer) or segment in CONSUMER_SEGMENTS


def waives_penalties(creditor: Creditor, debtor: Debtor) -> bool:
    """Whether the creditor claims neither the L441-10 penalties nor the 40 EUR
    indemnity from `debtor`: it waived them for all its debtors, or for the debtor's
    segment (compared without case or surrounding spaces)."""
    if creditor.waive_penalties:
        return True
    segment = (debtor.segment or "").strip().lower()
    waived = {str(s).strip().lower() for s in (creditor.waive_segments or [])}
    return bool(segment) and segment in waived


def consumer_terms(text: str) -> list[str]:
    """The words of `text` (plain or HTML) that a consumer's letter may not carry."""
    plain = html.unescape(re.sub(r"<[^>]*>", " ", text))
    plain = " ".join(plain.replace("\u202f", " ").replace("\xa0", " ").split())
    plain = without_quoted_law(plain)
    found: list[str] = []
    for match in _CONSUMER_FORBIDDEN.finditer(plain):
        term = " ".join(match.group(0).split())
        if term.lower() not in (f.lower() for f in found):
            found.append(term)
    return found


@dataclass(frozen=True)
class Mentions:
    """The legal mentions a letter prints, and the sentences left out of it."""

    lines: tuple[str, ...]
    left_out: tuple[str, ...] = ()


def _sentences(line: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(line) if part.strip()]


def mentions_for(general: Iterable[str], *, consumer: bool,
                 b2b: Iterable[str] = (), b2c: Iterable[str] = (),
                 waived: bool = False) -> Mentions:
    """The mention lines for a debtor: the general ones plus the part for its kind; for a
    consumer, without any sentence about penalties, the indemnity or collection fees;
    for a business whose penalties the creditor waived, without those sentences either,
    and without a warning (nothing was misplaced)."""
    if not consumer and waived:
        return Mentions(tuple(_without_penalty_sentences((*general, *b2b))[0]))
    if not consumer:
        return Mentions((*general, *b2b))
    kept, left_out = _without_penalty_sentences((*general, *b2c))
    return Mentions(tuple(kept), tuple(left_out))


def _without_penalty_sentences(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """The lines without their sentences about penalties, the indemnity or fees, and
    the sentences taken out."""
    kept: list[str] = []
    left_out: list[str] = []
    for line in lines:
        sentences = _sentences(line)
        safe = [s for s in sentences if not _B2B_SENTENCE.search(s)]
        left_out.extend(s for s in sentences if s not in safe)
        if safe:
            kept.append(" ".join(s.strip() for s in safe))
    return kept, left_out


def _lines(value: Any) -> list[str]:
    """Mention lines from a settings value: a text (one mention a line) or a list."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [line.strip() for item in items for line in str(item).splitlines() if line.strip()]


def creditor_mentions(creditor: Creditor, *, consumer: bool,
                      waived: bool = False) -> Mentions:
    settings: Mapping[str, Any] = creditor.settings or {}
    return mentions_for(_lines(creditor.legal_mentions), consumer=consumer,
                        b2b=_lines(settings.get(B2B_MENTIONS_KEY)),
                        b2c=_lines(settings.get(B2C_MENTIONS_KEY)), waived=waived)


def left_out_warning(sentence: str) -> str:
    short = sentence if len(sentence) <= 70 else sentence[:67].rstrip() + "..."
    return (f"legal mentions: B2B-only sentence left out of a consumer's letter "
            f"({short!r}); move it to the creditor's settings {B2B_MENTIONS_KEY}")


@dataclass(frozen=True)
class LegalInterest:
    """Interest at the legal rate on a consumer's debt, running from a formal notice."""

    since: dt.date  # the formal notice's date (today's, when this letter is the notice)
    this_notice: bool  # this letter is the formal notice itself
    period: HalfYear  # the half-year whose rate the letter quotes: the letter's own
    rate: Decimal | None  # None: the table has no figure for that half-year yet
    warning: str | None


def legal_interest(table: RateTable, *, consumer: bool, template: str | None,
                   today: dt.date, earlier_notice: dt.date | None) -> LegalInterest | None:
    """What a consumer letter says about legal interest: nothing before a formal notice,
    and nothing to a business (its penalties replace the legal interest)."""
    if not consumer:
        return None
    if earlier_notice is not None:
        # Interest already runs from the first notice, even on a second one.
        since, this_notice = earlier_notice, False
    elif template in FORMAL_NOTICE_TEMPLATES:
        since, this_notice = today, True
    else:
        return None
    period = half_year_of(today)
    # The creditor is a company: the "autres cas" column (see the module's docstring).
    rate, warning = legal_rate(table, period, private_creditor=False)
    return LegalInterest(since, this_notice, period, rate, warning)


def half_year_text(period: HalfYear, language: str) -> str:
    year, half = period
    if language == "fr":
        return f"{'premier' if half == 1 else 'second'} semestre {year}"
    if language == "en":
        return f"{'first' if half == 1 else 'second'} half of {year}"
    return format_half_year(period)


__all__ = [
    "B2B_MENTIONS_KEY",
    "B2C_MENTIONS_KEY",
    "CONSUMER_SEGMENTS",
    "FORMAL_NOTICE_TEMPLATES",
    "LegalInterest",
    "Mentions",
    "consumer_terms",
    "creditor_mentions",
    "half_year_text",
    "is_consumer",
    "left_out_warning",
    "legal_interest",
    "mentions_for",
    "waives_penalties",
]
