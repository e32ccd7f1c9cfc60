"""Errors are values: every stage (parse, check) returns what it built and a list of
`Diagnostic` records, each with a stable code, a sentence, the place and a hint.

`render` prints one like a compiler does::

    rules/franchise.rules:5:8: error E201: unknown field 'overdeu'
        5 |   when overdeu >= 15d
          |        ^^^^^^^
      hint: did you mean 'overdue'?
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relance.dsl.ast import Span


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
        lines = [f"{where}: {self.severity} {self.code}: {self.message}"]
        if source is not None and span.line > 0:
            source_lines = source.splitlines()
            if span.line <= len(source_lines):
                raw = source_lines[span.line - 1].expandtabs(1).rstrip("\r")
                # Control characters would garble the terminal and shift the caret.
                text = "".join(c if c.isprintable() else "?" for c in raw)
                number = str(span.line)
                gutter = " " * len(number)
                start = max(span.column, 1)
                if span.end_line == span.line and span.end_column > start:
                    width = span.end_column - start
                else:
                    width = 1
                width = max(1, min(width, max(len(text) - start + 1, 1)))
                lines.append(f"  {number} | {text}".rstrip())
                lines.append(f"  {gutter} | {' ' * (start - 1)}{'^' * width}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, hint)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, hint)


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
    return f"did you mean '{match}'?" if match else None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    span = diagnostic.span
    return (span.file, span.line, span.column, diagnostic.code)


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """Every diagnostic in file order, each with its source line, separated by a blank."""
    ordered = sorted(diagnostics, key=sort_key)
    return "\n\n".join(d.render(sources.get(d.span.file)) for d in ordered)


# The catalogue of codes: each is documented in docs/language.md (a test checks it).
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
    "E220": "two rules with one identity in a policy",
    "E221": "two policies with one name in the workspace",
    "E230": "a condition that can never hold (an empty range)",
    "E231": "a rule shadowed by a later rule that always holds when it does",
    "W301": "an outbound rule that ignores `paused`",
    "W302": "money compared without fixing the currency",
    "W303": "a level that can be jumped over while a later level depends on it",
    "W305": "a file without any policy",
    "W306": "open invoices sit on a rule that no longer exists",
}
