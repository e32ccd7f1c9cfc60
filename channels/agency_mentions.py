"""The collection firm's first letter, checked against the law before it goes out.

CPCE R124-4 lists what the first letter of a person collecting a debt for someone else
must say; R124-7 fines the omission of any of it. One function per mention reads the
rendered text (a letter's HTML or PDF text, an e-mail's text with its attached letter;
each function flattens it with `plain_text`) beside the context it was rendered from,
and returns what is missing, empty when the mention is there:

1. `firm_identity`: the firm's name and address, and that it carries on amicable debt
   collection ("exerce une activité de recouvrement amiable");
2. `creditor_identity`: the creditor's name and address;
3. `debt_basis_and_amount`: the basis of the debt (each invoice's number and date) and
   its amount as principal, interest and other accessories, each shown, and no
   collection fee charged to the debtor;
4. `demand_to_pay`: the demand to pay and how: the total, the deadline, the IBAN of the
   firm's client-funds account and the reference to quote;
5. `law_reproduced`: paragraphs 2 and 3 of CPCE L111-8, word for word.

`check_firm_letter` runs the five and names the mentions missing; `refusal` is what the
dispatcher (`channels.prepare.Renderer.prepare`) asks of every message of a firm's case:
the first must carry the five mentions (an SMS cannot be the first), every later one
must recall the first letter's reference and date (`recall_of_first_letter`). A refused
message fails with the mentions named, before anything of it is sent.

The text is compared flattened (one kind of space and apostrophe, no case): what a PDF
reader or HTML escaping does to spaces and quotes is not a missing mention.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relance.channels.agency_law import L111_8_PARAGRAPHS, flat
from relance.channels.reasons import Reason, reason, term
from relance.kernel.i18n import N_

# R124-4 1°: the words of the statement, in French whatever the letter's language (an
# English letter quotes them beside its own words).
ACTIVITY_STATEMENT = "exerce une activité de recouvrement amiable"  # not for people: law

_HEAD = re.compile(r"<(head|style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# How a letter may name each part of the debt (a B2B letter's interest is the L441-10
# penalties, its accessory the fixed indemnity).
_LABELS = {
    "principal": r"principal",
    "interest": r"int[ée]r[êe]ts?|interest|p[ée]nalit[ée]s?|penalt(?:y|ies)",
    "accessories": r"accessoires?|accessories|indemnit[ée]s?|compensation",
}
# A demand to pay: an asking word, then within a few words a verb of paying.
_DEMAND = re.compile(
    r"\b(?:demandons|invitons|prions|mettons\s+en\s+demeure|veuillez|merci\s+de"
    r"|please|ask\s+you|request)\b.{0,80}?\b(?:r[ée]gler|payer|verser|pay|paying|payment)\b",
    re.IGNORECASE | re.DOTALL)
# Fees that L111-8 leaves to the creditor, under the names a template could give them.
_FEES = re.compile(
    r"\b(?:frais\s+de\s+dossier|frais\s+de\s+gestion|frais\s+d['’]intervention"
    r"|honoraires|droits?\s+de\s+recouvrement|commission\s+de\s+recouvrement"
    r"|collection\s+(?:fee|fees|charges?)|handling\s+(?:fee|fees)"
    r"|administrative\s+(?:fee|fees))\b",
    re.IGNORECASE)


def plain_text(text: str | None) -> str:
    """A rendered message as text to search: HTML without its head and tags, escapes
    undone, flattened and without case."""
    text = _HEAD.sub(" ", text or "")
    return flat(html.unescape(_TAG.sub(" ", text))).casefold()


def _has(text: str, words: str | None) -> bool:
    return bool(words) and flat(str(words)).casefold() in text


def _compact(text: str) -> str:
    return "".join(text.split())


def _firm(context: Mapping[str, Any]) -> Mapping[str, Any]:
    firm = context.get("agency")
    return firm if isinstance(firm, Mapping) else {}


# --------------------------------------------------------------------------- mentions


def firm_identity(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4 1°: the firm's name and address and that it collects debts amicably."""
    text = plain_text(text)
    firm = _firm(context)
    missing: list[Reason] = []
    if not _has(text, firm.get("name")):
        missing.append(term(N_("the firm's name")))
    lines = list(firm.get("address_lines") or [])
    if not lines:
        missing.append(term(N_("the firm's address")))
    missing.extend(reason(N_("the firm's address line {line!r}"), line=line)
                   for line in lines if not _has(text, line))
    if ACTIVITY_STATEMENT not in text:
        missing.append(reason(N_("the statement {words!r}"), words=ACTIVITY_STATEMENT))
    return missing


def creditor_identity(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4 2°: the creditor's name and address."""
    text = plain_text(text)
    creditor = context.get("creditor") or {}
    missing: list[Reason] = []
    if not _has(text, creditor.get("name")):
        missing.append(term(N_("the creditor's name")))
    lines = list(creditor.get("address_lines") or [])
    if not lines:
        missing.append(term(N_("the creditor's address")))
    missing.extend(reason(N_("the creditor's address line {line!r}"), line=line)
                   for line in lines if not _has(text, line))
    return missing


def _labelled(text: str, label: str, amount: str) -> bool:
    pattern = rf"(?:{label})\b.{{0,120}}?{re.escape(flat(amount).casefold())}"
    return re.search(pattern, text, re.DOTALL) is not None


def debt_basis_and_amount(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4 3°: each invoice (number, date), the principal, interest and other
    accessories each shown with its amount, and no collection fee."""
    text = plain_text(text)
    missing: list[Reason] = []
    invoices: Sequence[Mapping[str, Any]] = context.get("invoices") or []
    if not invoices:
        missing.append(term(N_("the invoices the debt comes from")))
    for invoice in invoices:
        if not _has(text, invoice.get("number")):
            missing.append(reason(N_("invoice {number}"), number=invoice.get("number")))
        elif not _has(text, invoice.get("issue_date")):
            missing.append(reason(N_("the date of invoice {number}"),
                                  number=invoice.get("number")))
    parts = {"principal": N_("the principal of {amount}"),
             "interest": N_("the interest of {amount}"),
             "accessories": N_("the other accessories of {amount}")}
    for total in context.get("totals") or []:
        for part, sentence in parts.items():
            amount = str(total.get(part) or "")
            if not _labelled(text, _LABELS[part], amount):
                missing.append(reason(sentence, amount=amount))
    fees = sorted({" ".join(m.group(0).split()) for m in _FEES.finditer(text)})
    if fees:
        missing.append(reason(N_("no collection fee charged to the debtor (the text "
                                 "says {fees})"), fees=", ".join(repr(f) for f in fees)))
    return missing


def demand_to_pay(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4 4°: the demand to pay the sum due, and how: the total, the deadline, the
    firm's client-funds IBAN and the reference to quote."""
    text = plain_text(text)
    firm = _firm(context)
    missing: list[Reason] = []
    if _DEMAND.search(text) is None:
        missing.append(term(N_("the demand to pay")))
    for total in context.get("totals") or []:
        if not _has(text, total.get("total")):
            missing.append(reason(N_("the total due of {amount}"), amount=total.get("total")))
    days = context.get("deadline_days")
    by_days = re.search(rf"\b{days}\s+(?:jours|days)\b", text) is not None
    if not _has(text, context.get("deadline")) and not by_days:
        missing.append(reason(N_("the deadline to pay ({deadline})"),
                              deadline=context.get("deadline")))
    iban = _compact(str(firm.get("iban") or "")).casefold()
    if not iban or iban not in _compact(text):
        missing.append(term(N_("the IBAN of the firm's client-funds account")))
    payment = context.get("payment") or {}
    if not _has(text, payment.get("reference")):
        missing.append(reason(N_("the reference to quote ({reference})"),
                              reference=payment.get("reference")))
    return missing


def law_reproduced(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4 5°: paragraphs 2 and 3 of CPCE L111-8, as the code writes them."""
    text = plain_text(text)
    names = (N_("paragraph 2 of article L111-8"), N_("paragraph 3 of article L111-8"))
    return [term(name) for name, paragraph in zip(names, L111_8_PARAGRAPHS, strict=True)
            if flat(paragraph).casefold() not in text]


def recall_of_first_letter(text: str, context: Mapping[str, Any]) -> list[Reason]:
    """R124-4, last paragraph: a later message recalls the case and the first letter's
    reference and date (the long or the short form of the date)."""
    text = plain_text(text)
    firm = _firm(context)
    missing: list[Reason] = []
    if not _has(text, firm.get("case_reference")):
        missing.append(reason(N_("the case reference {reference}"),
                              reference=firm.get("case_reference")))
    if not _has(text, firm.get("first_letter_reference")):
        missing.append(reason(N_("the first letter's reference {reference}"),
                              reference=firm.get("first_letter_reference")))
    if not (_has(text, firm.get("first_letter_date"))
            or _has(text, firm.get("first_letter_date_short"))):
        missing.append(reason(N_("the first letter's date {date}"),
                              date=firm.get("first_letter_date")))
    return missing


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Mention:
    """One mention of R124-4: its number in the article, its name, its check."""

    number: int
    name: str  # English, marked with N_: translated where shown
    check: Callable[[str, Mapping[str, Any]], list[Reason]]


MENTIONS: tuple[Mention, ...] = (
    Mention(1, N_("the firm's name and address, and that it carries on amicable debt "
                  "collection"), firm_identity),
    Mention(2, N_("the creditor's name and address"), creditor_identity),
    Mention(3, N_("the basis and amount of the debt: principal, interest and other "
                  "accessories shown separately, without collection fees"),
            debt_basis_and_amount),
    Mention(4, N_("the demand to pay and how to pay"), demand_to_pay),
    Mention(5, N_("the text of paragraphs 2 and 3 of CPCE article L111-8"), law_reproduced),
)


@dataclass(frozen=True)
class Missing:
    """A mention a firm's letter lacks, with what exactly is missing of it."""

    mention: Mention
    details: tuple[Reason, ...]

    @property
    def reason(self) -> Reason:
        """`R124-4 3°: the basis ... (missing: invoice F-1)`, in both forms."""
        label = reason(N_("R124-4 {number}°: {mention}"), number=self.mention.number,
                       mention=term(self.mention.name))
        details = _joined(self.details, ", ")
        return reason(N_("{mention} (missing: {details})"), mention=label, details=details)


def _joined(reasons: Sequence[Reason], separator: str) -> Reason:
    return Reason(separator.join(r.english for r in reasons),
                  separator.join(r.shown for r in reasons))


def firm_letter_problems(text: str, context: Mapping[str, Any]) -> list[Missing]:
    """Each R124-4 mention the text (raw HTML or plain) lacks, with the details."""
    plain = plain_text(text)
    found = [Missing(mention, tuple(mention.check(plain, context))) for mention in MENTIONS]
    return [missing for missing in found if missing.details]


def check_firm_letter(text: str, context: Mapping[str, Any]) -> list[str]:
    """The names of the R124-4 mentions the firm's letter lacks, in the language being
    spoken; empty when it carries them all."""
    return [term(missing.mention.name).shown
            for missing in firm_letter_problems(text, context)]


def refusal(channel: str, context: Mapping[str, Any], *, letter_html: str | None = None,
            text: str | None = None, subject: str | None = None,
            html_text: str | None = None) -> Reason | None:
    """Why a rendered message of a firm's case may not go out; None when it may, or
    when it is no firm message. The first message needs the five mentions, in the
    e-mail or the letter it attaches; every later one recalls the first letter."""
    firm = _firm(context)
    if not firm or channel not in ("letter", "email", "sms"):
        return None
    case = firm.get("case_reference")
    if channel == "letter":
        body = letter_html or ""
    else:
        body = "\n".join(part for part in (subject, text, html_text, letter_html) if part)
    if firm.get("first"):
        if channel == "sms":
            return reason(N_("an SMS cannot be the firm's first message on case {case}: "
                             "the first is a letter or an e-mail carrying the mentions of "
                             "CPCE R124-4"), case=case)
        problems = firm_letter_problems(body, context)
        if not problems:
            return None
        return reason(N_("the firm's first letter on case {case} lacks what CPCE R124-4 "
                         "requires: {missing}"),
                      case=case, missing=_joined([p.reason for p in problems], "; "))
    lacks = recall_of_first_letter(body, context)
    if not lacks:
        return None
    return reason(N_("a message on case {case} must recall the firm's first letter "
                     "(CPCE R124-4): it lacks {missing}"),
                  case=case, missing=_joined(lacks, ", "))


__all__ = [
    "ACTIVITY_STATEMENT",
    "MENTIONS",
    "Mention",
    "Missing",
    "check_firm_letter",
    "creditor_identity",
    "debt_basis_and_amount",
    "demand_to_pay",
    "firm_identity",
    "firm_letter_problems",
    "law_reproduced",
    "plain_text",
    "recall_of_first_letter",
    "refusal",
]
