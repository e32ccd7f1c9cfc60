"""Errors are values: every stage (parse, check) returns what it built and a list of
`Diagnostic` records, each with a stable code, a sentence, the place and a hint.

`render` prints one like a compiler does::

    rules/franchise.rules:5:8: error E201: unknown field 'overdeu'
        5 |   when overdeu >= 15d
          |        ^^^^^^^
      hint: did you mean 'overdue'?

A rule file is anyone's text, and one long line must not print megabytes: a finding
quotes a window of its line around the fault, a word it names is cut, and `render_all`
prints a bounded number of findings per file.
"""

from __future__ import annotations

import difflib
import enum
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relance.dsl.ast import Span
from relance.kernel.i18n import _, ngettext

QUOTE_WINDOW = 120  # characters of a long source line quoted around the fault
QUOTE_BEFORE = 40  # of them, before the fault's column, for its context
ELLIPSIS = "…"  # marks a line or a word that goes on
WORD_MAX = 60  # a quoted word longer than this is cut to WORD_KEPT characters and '…'
WORD_KEPT = 40
SENTENCE_MAX = 400  # a sentence (or hint) is cut past this, whatever it quotes
MAX_SHOWN_PER_FILE = 50  # findings printed per file; the rest are counted

# A quoted word: the messages quote what the user wrote between single quotes. Words
# only (no blank inside), so that prose between two quotes is never taken for one.
_LONG_WORD = re.compile(rf"'([^'\s]{{{WORD_MAX + 1},}})'")


def shorten(text: str) -> str:
    """A sentence as printed: each long quoted word cut, and the whole bounded."""
    text = _LONG_WORD.sub(lambda match: f"'{match.group(1)[:WORD_KEPT]}{ELLIPSIS}'", text)
    return text if len(text) <= SENTENCE_MAX else text[:SENTENCE_MAX] + ELLIPSIS


def _window(length: int, start: int) -> tuple[int, int]:
    """The [low, high) slice of a line of `length` characters to quote for a fault at
    0-based `start`: the whole line when short, else QUOTE_WINDOW characters with
    QUOTE_BEFORE of them before the fault (fewer at the start, more at the end)."""
    if length <= QUOTE_WINDOW:
        return 0, length
    low = max(0, start - QUOTE_BEFORE)
    high = min(length, low + QUOTE_WINDOW)
    return max(0, high - QUOTE_WINDOW), high


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One fault found in a rule file: severity, stable code, sentence, place, hint."""

    severity: Severity
    code: str
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        """A plain dict for `--json` output."""
        return {
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "hint": self.hint,
        }

    def render(self, source: str | None = None) -> str:
        """The diagnostic as a compiler prints it: place, code, sentence, the source
        line with carets under the fault (when the source is given), then the hint."""
        span = self.span
        where = str(span) if span.line > 0 else span.file
        if self.is_error:
            head = _("{place}: error {code}: {message}")
        else:
            head = _("{place}: warning {code}: {message}")
        lines = [head.format(place=where, code=self.code, message=self.message)]
        if source is not None and span.line > 0:
            source_lines = source.splitlines()
            if span.line <= len(source_lines):
                raw = source_lines[span.line - 1].rstrip("\r")
                start = max(span.column, 1)
                low, high = _window(len(raw), start - 1)
                # Cut before cleaning: a megabyte line costs no more than a short one.
                # A tab widens to one blank, so columns still count characters.
                shown = raw[low:high].expandtabs(1)
                # Control characters would garble the terminal and shift the caret.
                text = "".join(c if c.isprintable() else "?" for c in shown)
                before = ELLIPSIS if low > 0 else ""
                after = ELLIPSIS if high < len(raw) else ""
                number = str(span.line)
                gutter = " " * len(number)
                if span.end_line == span.line and span.end_column > start:
                    width = span.end_column - start
                else:
                    width = 1
                offset = start - 1 - low  # the fault's place in the quoted window
                width = max(1, min(width, max(len(text) - offset, 1)))
                lines.append(f"  {number} | {before}{text}{after}".rstrip())
                lines.append(f"  {gutter} | {' ' * (len(before) + offset)}{'^' * width}")
        if self.hint:
            lines.append("  " + _("hint: {hint}").format(hint=self.hint))
        return "\n".join(lines)


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, shorten(message), span,
                      None if hint is None else shorten(hint))


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, shorten(message), span,
                      None if hint is None else shorten(hint))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None when nothing is close."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {candidate.lower(): candidate for candidate in pool}
        if word.lower() in lowered:
            return lowered[word.lower()]
        return None
    return matches[0]


def suggestion(word: str, candidates: Iterable[str]) -> str | None:
    """`did you mean 'x'?` or None."""
    match = did_you_mean(word, candidates)
    return _("did you mean '{word}'?").format(word=match) if match else None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    span = diagnostic.span
    return (span.file, span.line, span.column, diagnostic.code)


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """The diagnostics in file order, each with its source line, separated by a blank;
    past MAX_SHOWN_PER_FILE in a file, one line counts the rest (fixing the first ones
    often clears them, and `--json` lists them all)."""
    blocks: list[str] = []
    ordered = sorted(diagnostics, key=sort_key)
    for name, group in itertools.groupby(ordered, key=lambda d: d.span.file):
        found = list(group)
        blocks.extend(d.render(sources.get(name)) for d in found[:MAX_SHOWN_PER_FILE])
        rest = len(found) - MAX_SHOWN_PER_FILE
        if rest > 0:
            blocks.append(ngettext("{file}: and {count} more finding not shown",
                                   "{file}: and {count} more findings not shown", rest)
                          .format(file=name, count=rest))
    return "\n\n".join(blocks)


# The catalogue of codes: each is documented in docs/language.md (a test checks it).
# Not shown by the program (the findings carry their own sentences): left in English.
CODES: dict[str, str] = {
    # reading and syntax
    "E100": "a file cannot be read (missing, not UTF-8)",
    "E101": "unexpected word or sign",
    "E102": "the file ends in the middle of a rule",
    "E103": "a character that has no place in the language",
    "E104": "a quoted text is not closed on its line",
    "E105": "a malformed duration, number or money amount",
    "E106": "an impossible date",
    "E107": "an unnamed rule with several actions",
    "E108": "an unknown channel, priority or stage in an action",
    "E109": "an option given twice",
    "E110": "a malformed name",
    "E111": "a condition nested too deeply",
    # checking
    "E201": "unknown field",
    "E202": "a value of the wrong type for its field",
    "E203": "an unknown value for a field with a fixed set of values",
    "E204": "an unknown currency code",
    "E205": "an operator that does not apply to the field's type",
    "E206": "a misuse of `in` (list vs set-valued field)",
    "E207": "a field used alone that is not a yes/no field",
    "E210": "`after` names a rule that is not in the policy",
    "E211": "`after` names the rule itself or a later rule: the rule can never act",
    "E212": "a template that does not exist for the channel",
    "E213": "`with statement` on an action that is not a letter or an e-mail",
    "E220": "two rules with one identity in a policy",
    "E221": "two policies with one name in the workspace",
    "E230": "a condition that can never hold (an empty range)",
    "E231": "a rule shadowed by a later rule that always holds when it does",
    "W301": "an outbound rule that ignores `paused`",
    "W302": "money compared without fixing the currency",
    "W303": "a level that can be jumped over while a later level depends on it",
    "W305": "a file without any policy",
    "W306": "open invoices sit on a rule that no longer exists",
    "W307": "`creditor` compared with a code no creditor of the book has",
}
