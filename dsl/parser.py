"""Text to syntax tree: `parse_text(text, path) -> (RuleFile | None, diagnostics)`.

Over 500 lines because parsing, the worded syntax errors and the tree builder share one
vocabulary (the keywords, the words for each terminal, the channels and units): apart,
that vocabulary would need a module of its own, and the three still change together
whenever the grammar does.

The grammar lives in `grammar.lark` (LALR, positions propagated). Lark's exceptions never
leave this module: a syntax error becomes one `Diagnostic` saying, in words, what was
found and what was expected there, with "did you mean" for a misspelt keyword. Mistakes
the grammar lets through on purpose (`15days`, `send lettre`, a bad date) are reported
while the tree is built, so each gets its own sentence.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from lark.lexer import PatternStr

from relance.dsl import ast
from relance.dsl.diagnostics import Diagnostic, error, suggestion
from relance.dsl.parser_cache import cached_parser
from relance.kernel.i18n import N_, _

CHANNELS = ("letter", "email", "sms")
PRIORITIES = ("low", "normal", "high")
STAGES = ("amicable", "litigation")
DURATION_UNITS = ("d", "w", "bd")

# Every keyword of the language: reserved, never a field, rule or policy name.
KEYWORDS = (
    "policy", "for", "rule", "when", "then", "and", "or", "not", "in", "after", "by",
    "send", "with", "tone", "call", "priority", "notify", "escalate", "to", "requires",
    "approval", "every", "per", "invoice", "statement", "true", "false",
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUANTITY = re.compile(r"(-?\d+)(\.\d+)?([A-Za-z_][A-Za-z0-9_]*)")

# How a terminal reads in an error message (keywords read as themselves, quoted);
# translated where a message is written.
_TERMINAL_WORDS = {
    "NAME": N_("a name"),
    "STRING": N_("a quoted text"),
    "QUANTITY": N_("a duration such as 15d"),
    "NUMBER": N_("a number"),
    "DATE": N_("a date such as 2026-01-31"),
    "COMPARE_OP": N_("a comparison (=, !=, <, <=, >, >=)"),
    "$END": N_("the end of the file"),
}
# The order expectations are listed in: the most helpful first.
_WORD_ORDER = ("policy", "rule", "when", "for", "COMPARE_OP", "in", "not", "and", "or",
               "then", "after", "by", "to", "with", "QUANTITY", "NUMBER", "DATE", "STRING",
               "NAME", "true", "false", ":", ",", "(", ")", "[", "]")


class _CommentSink(threading.local):
    """Where the lexer callback puts the comments of the file being parsed."""

    def __init__(self) -> None:
        self.comments: list[Token] = []


_SINK = _CommentSink()


def _keep_comment(token: Token) -> Token:
    _SINK.comments.append(token)
    return token


@lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar source, shipped as package data next to this module."""
    return importlib.resources.files("relance.dsl").joinpath("grammar.lark").read_text("utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # Built once per grammar and kept between processes (`relance.dsl.parser_cache`).
    return cached_parser(
        grammar_text(),
        {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
         "maybe_placeholders": True},
        {"COMMENT": _keep_comment},
    )


def parse_text(text: str, path: str) -> tuple[ast.RuleFile | None, list[Diagnostic]]:
    """Parse one rule file. Returns the tree (None when the syntax is broken) and the
    diagnostics found; never raises on any input text."""
    parser = _lark()
    _SINK.comments = []
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        return None, [_syntax_diagnostic(exc, text, path)]
    except RecursionError:
        return None, [error("E111", _("this file nests too deeply to be read"),
                            ast.Span(path, 1, 1), _("split its conditions into simpler rules"))]
    finally:
        comment_tokens, _SINK.comments = _SINK.comments, []
    too_deep = _too_deep(tree, path)
    if too_deep is not None:
        return None, [too_deep]
    builder = _Builder(path)
    policies = cast(tuple[ast.Policy, ...], builder.build(tree))
    comments = tuple(
        ast.Comment(token.value, _token_span(path, token)) for token in comment_tokens
    )
    return ast.RuleFile(path, policies, comments), builder.diagnostics


# Deeper conditions are refused: nobody writes them, and every later stage recurses.
MAX_DEPTH = 64


def _too_deep(tree: Tree[Token], path: str) -> Diagnostic | None:
    """A diagnostic when the tree nests deeper than MAX_DEPTH (walked without recursion)."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            line = getattr(meta, "line", 1) if not meta.empty else 1
            column = getattr(meta, "column", 1) if not meta.empty else 1
            return error("E111", _("this condition nests more than {depth} levels deep")
                         .format(depth=MAX_DEPTH),
                         ast.Span(path, line, column, line, column + 1),
                         _("split it into simpler rules"))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


# --------------------------------------------------------------------------- errors


def describe_terminal(name: str) -> str:
    """A terminal in words: `'when'`, `a duration such as 15d`, never `__ANON_3`."""
    if name in _TERMINAL_WORDS:
        return _(_TERMINAL_WORDS[name])
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if isinstance(pattern, PatternStr):
        return f"'{pattern.value}'"
    return name.lower()


def _terminal_key(name: str) -> str:
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    return pattern.value if isinstance(pattern, PatternStr) else name


def describe_expected(names: set[str]) -> str:
    """`'and', 'or' or 'then'`: the expected terminals in a fixed, helpful order."""
    keys = sorted(
        names,
        key=lambda n: (
            _WORD_ORDER.index(_terminal_key(n)) if _terminal_key(n) in _WORD_ORDER else 50,
            n == "$END",
            n,
        ),
    )
    words = [describe_terminal(name) for name in keys]
    if not words:
        return _("nothing more")
    if len(words) == 1:
        return words[0]
    return _("{items} or {last}").format(items=", ".join(words[:-1]), last=words[-1])


def _describe_token(token: Token) -> str:
    if token.type == "STRING":
        return _("text {text}").format(text=token.value)
    return f"'{token.value}'"


def _syntax_diagnostic(exc: UnexpectedInput, text: str, path: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        line, column, position = exc.line or 1, exc.column or 1, exc.pos_in_stream or 0
        span = ast.Span(path, line, column, line, column + 1)
        char = text[position] if position < len(text) else " "
        if char in ("'", '"'):
            return error("E104", _("this quoted text is not closed on its line"), span,
                         _("end it with {quote} before the end of the line").format(quote=char))
        hint = None
        if char in ("\u2018", "\u2019", "\u201c", "\u201d"):
            hint = _("use straight quotes: 'like this'")
        elif char == "&":
            hint = _("write 'and'")
        elif char == "|":
            hint = _("write 'or'")
        elif char == "!":
            hint = _("write 'not', or '!=' for 'is not equal to'")
        elif char == "=" and text[position:position + 2] == "==":
            hint = _("write a single '='")
        shown = char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
        return error("E103", _("unexpected character '{char}'").format(char=shown), span, hint)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        expected = set(exc.accepts or exc.expected)
        misread = _keyword_read_as_field(exc, text, path, expected)
        if misread is not None:
            return misread
        span = _token_span(path, token)
        return error(
            "E101",
            _("unexpected {found}: expected {expected}").format(
                found=_describe_token(token), expected=describe_expected(expected)),
            span,
            _token_hint(token, expected, text),
        )
    # The end of the file came too early: point just past the last character.
    expected = set(getattr(exc, "expected", ()) or ())
    if isinstance(exc, UnexpectedToken):
        expected = set(exc.accepts or exc.expected)
    line, column = _end_position(exc, text)
    span = ast.Span(path, line, column, line, column + 1)
    if isinstance(exc, UnexpectedEOF | UnexpectedToken):
        return error("E102", _("the file ends too early: expected {expected}").format(
                         expected=describe_expected(expected)), span)
    return error("E101", _("this text cannot be read"), span)  # pragma: no cover


_LAST_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _keyword_read_as_field(exc: UnexpectedToken, text: str, path: str,
                           expected: set[str]) -> Diagnostic | None:
    """`when overdue >= 5d and then call`: where a condition must start, the contextual
    lexer reads `then` as a field name and the parser stumbles one word later. Point at
    the keyword instead, saying a condition is missing."""
    if "COMPARE_OP" not in expected or exc.token.start_pos is None:
        return None
    before = text[: exc.token.start_pos]
    match = _LAST_WORD.search(before[-200:])
    if match is None or match.group(1) not in KEYWORDS:
        return None
    word = match.group(1)
    start = len(before) - len(before[-200:]) + match.start()
    line = before.count("\n", 0, start) + 1
    column = start - (before.rfind("\n", 0, start) + 1) + 1
    return error("E101",
                 _("unexpected '{word}': expected a condition (a field, 'not', 'after' or "
                   "'(')").format(word=word),
                 ast.Span(path, line, column, line, column + len(word)))


def _end_position(exc: UnexpectedInput, text: str) -> tuple[int, int]:
    """Just past the last token, for 'ends too early' (a trailing comment is not where
    something is missing). Lark's end-of-input token borrows the last token's place."""
    token = getattr(exc, "token", None)
    if isinstance(token, Token) and token.end_line and token.end_column:
        return token.end_line, token.end_column
    stripped = text.rstrip()
    if not stripped:
        return 1, 1
    lines = stripped.split("\n")
    return len(lines), len(lines[-1]) + 1


def _token_hint(token: Token, expected: set[str], text: str) -> str | None:
    keywords = {
        key for key in (_terminal_key(name) for name in expected)
        if key.isalpha() and key.islower()
    }
    if token.type == "NAME":
        if "STRING" in expected and "NAME" not in expected:
            return _("quote it: '{word}'").format(word=token.value)
        hint = suggestion(token.value, keywords)
        if hint:
            return hint
        if token.value.lower() in keywords:
            return _("keywords are written in lower case: '{word}'").format(
                word=token.value.lower())
        return None
    if token.type == "COMPARE_OP":
        start = token.start_pos or 0
        if token.value in (">", "<") and start > 0 and text[start - 1] == "=":
            return _("write '{operator}='").format(operator=token.value)
        if token.value.startswith("="):
            return _("compare with a single '=', or with '>=' / '<='")
        return _("comparisons are =, !=, <, <=, >, >=")
    if token.value == "(" and "LSQB" in expected:
        return _("lists are written in square brackets: [a, b]")
    if token.value in ("send", "call", "notify", "escalate") and "THEN" in expected:
        return _("write 'then' before the action")
    if token.value in KEYWORDS and "NAME" in expected:
        return _("'{word}' is a keyword; choose another name or quote the value").format(
            word=token.value)
    if token.type == "STRING" and "NAME" in expected and "STRING" not in expected:
        return _("names are written without quotes")
    if token.type == "NUMBER" and "QUANTITY" in expected:
        return _("give a unit: {number}d (days), {number}w (weeks) or {number}bd "
                 "(business days)").format(number=token.value)
    return None


def _token_span(path: str, token: Token) -> ast.Span:
    line = token.line or 1
    column = token.column or 1
    end_line = token.end_line or line
    end_column = token.end_column or column + 1
    return ast.Span(path, line, column, end_line, end_column)


# --------------------------------------------------------------------------- tree building


def _meta_span(path: str, meta: Any) -> ast.Span:
    if getattr(meta, "empty", True):
        return ast.Span(path, 0, 0)
    return ast.Span(path, meta.line, meta.column, meta.end_line, meta.end_column)


class _Builder:
    """Turns Lark's tree into `relance.dsl.ast` nodes, noting mistakes as it goes.

    One method per grammar rule or alias, called with the node's positions and its
    children already built. A plain dispatch rather than a Lark `Transformer`: it is
    several times faster, and the depth check before it bounds the recursion."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self._handlers: dict[str, Callable[[Any, list[Any]], Any]] = {}

    def build(self, tree: Tree[Token]) -> Any:
        children = [self.build(child) if isinstance(child, Tree) else child
                    for child in tree.children]
        name = str(tree.data)
        handler = self._handlers.get(name)
        if handler is None:
            handler = self._handlers[name] = getattr(self, name)
        return handler(tree.meta, children)

    # -- helpers
    def _span(self, meta: Any) -> ast.Span:
        return _meta_span(self.path, meta)

    def _tspan(self, token: Token) -> ast.Span:
        return _token_span(self.path, token)

    def _error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint))

    def _name(self, token: Token, what: str) -> str:
        if not _IDENTIFIER.fullmatch(token.value):
            self._error("E110", _(_NAME_ERRORS[what]).format(name=token.value),
                        self._tspan(token),
                        _("a name is made of letters, digits and underscores"))
        return str(token.value)

    # -- structure
    def start(self, meta: Any, children: list[ast.Policy]) -> tuple[ast.Policy, ...]:
        return tuple(children)

    def policy(self, meta: Any, children: list[Any]) -> ast.Policy:
        name_token, scope, *rules = children
        name = self._name(name_token, "policy")
        return ast.Policy(name, scope, tuple(rules), self._span(meta))

    def rule(self, meta: Any, children: list[Any]) -> ast.Rule:
        name_token, condition, actions, options = children
        name = self._name(name_token, "rule") if name_token is not None else None
        span = self._span(meta)
        if name is None and len(actions) > 1:
            head = ast.Span(span.file, span.line, span.column, span.line,
                            span.column + len("when"))
            self._error(
                "E107", _("a rule with several actions must be named"), head,
                _("start it with 'rule NAME:' so that levels and 'after' can refer to it"),
            )
        return ast.Rule(name, condition, tuple(actions), options, span)

    def actions(self, meta: Any, children: list[ast.ActionSpec]) -> tuple[ast.ActionSpec, ...]:
        return tuple(children)

    def send(self, meta: Any, children: list[Any]) -> ast.Send:
        channel_token, template_token, tone_token = children
        channel = str(channel_token.value)
        if channel not in CHANNELS:
            self._error("E108", _("unknown channel '{channel}': send a letter, email or sms")
                        .format(channel=channel),
                        self._tspan(channel_token), suggestion(channel, CHANNELS))
            channel = "letter"
        template = self._template(template_token)
        tone = str(tone_token.value) if tone_token is not None else None
        return ast.Send(cast(ast.SendChannel, channel), template, tone, self._span(meta))

    def call(self, meta: Any, children: list[Any]) -> ast.CallTask:
        (priority_token,) = children
        priority: str | None = None
        if priority_token is not None:
            priority = str(priority_token.value)
            if priority not in PRIORITIES:
                self._error("E108", _("unknown priority '{priority}': low, normal or high")
                            .format(priority=priority),
                            self._tspan(priority_token), suggestion(priority, PRIORITIES))
                priority = None
        return ast.CallTask(cast(ast.Priority | None, priority), self._span(meta))

    def notify(self, meta: Any, children: list[Any]) -> ast.Notify:
        role_token, template_token = children
        role = self._name(role_token, "role")
        return ast.Notify(role, self._template(template_token), self._span(meta))

    def escalate(self, meta: Any, children: list[Any]) -> ast.Escalate:
        (stage_token,) = children
        stage = str(stage_token.value)
        if stage not in STAGES:
            self._error("E108", _("cannot escalate to '{stage}': amicable or litigation")
                        .format(stage=stage),
                        self._tspan(stage_token), suggestion(stage, STAGES))
            stage = "amicable"
        return ast.Escalate(cast(ast.TargetStage, stage), self._span(meta))

    def _template(self, token: Token) -> str:
        name = str(token.value)[1:-1]
        if not name.strip():
            self._error("E110", _("a template name cannot be empty"), self._tspan(token))
        return name

    def options(self, meta: Any, children: list[tuple[str, Any, ast.Span]]) -> ast.Options:
        seen: dict[str, Any] = {}
        for kind, value, span in children:
            if kind in seen:
                self._error("E109", _("the option '{option}' is given twice").format(
                                option=_OPTION_WORDS[kind]), span, _("keep one"))
                continue
            seen[kind] = value
        return ast.Options(
            requires_approval="approval" in seen,
            every=seen.get("every"),
            per_invoice="per_invoice" in seen,
            with_statement="statement" in seen,
            statement_span=seen.get("statement", ast.NO_SPAN),
        )

    def requires_approval(self, meta: Any, children: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("approval", True, self._span(meta))

    def per_invoice(self, meta: Any, children: list[Any]) -> tuple[str, Any, ast.Span]:
        return ("per_invoice", True, self._span(meta))

    def with_statement(self, meta: Any, children: list[Any]) -> tuple[str, Any, ast.Span]:
        span = self._span(meta)
        return ("statement", span, span)

    def every(self, meta: Any, children: list[Token]) -> tuple[str, Any, ast.Span]:
        return ("every", self._duration(children[0]), self._span(meta))

    # -- conditions
    def or_cond(self, meta: Any, children: list[ast.Condition]) -> ast.Or:
        return ast.Or(tuple(children), self._span(meta))

    def and_cond(self, meta: Any, children: list[ast.Condition]) -> ast.And:
        return ast.And(tuple(children), self._span(meta))

    def negation(self, meta: Any, children: list[ast.Condition]) -> ast.Not:
        return ast.Not(children[0], self._span(meta))

    def compare(self, meta: Any, children: list[Any]) -> ast.Compare:
        name_token, op_token, value = children
        return ast.Compare(self._field(name_token), cast(ast.CompareOp, str(op_token.value)),
                           value, self._span(meta))

    def in_set(self, meta: Any, children: list[Any]) -> ast.InList | ast.HasTag:
        return self._membership(meta, children, negated=False)

    def not_in_set(self, meta: Any, children: list[Any]) -> ast.InList | ast.HasTag:
        return self._membership(meta, children, negated=True)

    def _membership(self, meta: Any, children: list[Any], *,
                    negated: bool) -> ast.InList | ast.HasTag:
        left, target = children
        span = self._span(meta)
        if isinstance(target, ast.ListValue):
            return ast.InList(self._field(left), target, negated, span)
        # `vip in tags`: a bare word looked up in a set-valued field.
        return ast.HasTag(ast.WordValue(str(left.value), self._tspan(left)),
                          self._field(target), negated, span)

    def has_tag(self, meta: Any, children: list[Token]) -> ast.HasTag:
        value, field = children
        return ast.HasTag(self._text(value), self._field(field), False, self._span(meta))

    def not_has_tag(self, meta: Any, children: list[Token]) -> ast.HasTag:
        value, field = children
        return ast.HasTag(self._text(value), self._field(field), True, self._span(meta))

    def after(self, meta: Any, children: list[Token]) -> ast.After:
        ref, by = children
        rule = str(ref.value)[1:-1] if ref.type == "STRING" else str(ref.value)
        return ast.After(rule, self._duration(by), self._span(meta))

    def flag(self, meta: Any, children: list[Token]) -> ast.FlagTest:
        return ast.FlagTest(self._field(children[0]), self._span(meta))

    def _field(self, token: Token) -> ast.FieldRef:
        return ast.FieldRef(str(token.value), self._tspan(token))

    # -- values
    def list_value(self, meta: Any, children: list[Any]) -> ast.ListValue:
        return ast.ListValue(tuple(c for c in children if c is not None), self._span(meta))

    def quantity(self, meta: Any, children: list[Token]) -> ast.Scalar:
        return self._duration(children[0])

    def _duration(self, token: Token) -> ast.Duration:
        span = self._tspan(token)
        match = _QUANTITY.fullmatch(token.value)
        if match is None:  # a NUMBER where a duration was expected (after `by`, `every`)
            self._error("E105", _("'{text}' is not a duration").format(text=token.value), span,
                        _("give a unit: {number}d, {number}w or {number}bd").format(
                            number=token.value))
            return ast.Duration(0, "d", span)
        count, decimals, unit = match.groups()
        if unit in DURATION_UNITS and not decimals:
            return ast.Duration(int(count), cast(ast.DurationUnit, unit), span)
        number = count + (decimals or "")
        if unit in DURATION_UNITS:
            message = _("'{text}' is not a duration: durations are whole numbers").format(
                text=token.value)
            hint = _("write a whole number of days, weeks or business days, such as 15d")
        elif re.fullmatch(r"[A-Za-z]{3}", unit):
            message = _("'{text}' needs a space between the amount and the currency").format(
                text=token.value)
            hint = _("write {number} {currency}").format(number=number, currency=unit.upper())
        else:
            message = _("'{text}' is not a duration: unknown unit '{unit}'").format(
                text=token.value, unit=unit)
            hint = _("durations are written 15d (days), 2w (weeks) or 10bd (business days)")
        self._error("E105", message, span, hint)
        return ast.Duration(0, "d", span)

    def number(self, meta: Any, children: list[Token]) -> ast.NumberValue:
        return ast.NumberValue(Decimal(children[0].value), self._tspan(children[0]))

    def money(self, meta: Any, children: list[Token]) -> ast.MoneyValue:
        amount_token, currency_token = children
        currency = str(currency_token.value)
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            self._error("E105", _("'{code}' is not a currency code").format(code=currency),
                        self._tspan(currency_token),
                        _("write the amount with a three-letter code, such as 500 EUR"))
        try:
            amount = Decimal(amount_token.value)
        except InvalidOperation:  # pragma: no cover - the token's pattern forbids it
            amount = Decimal(0)
        return ast.MoneyValue(amount, currency.upper(), self._span(meta))

    def date(self, meta: Any, children: list[Token]) -> ast.DateValue:
        token = children[0]
        try:
            value = dt.date.fromisoformat(token.value)
        except ValueError:
            self._error("E106", _("'{text}' is not a date of the calendar").format(
                            text=token.value),
                        self._tspan(token), _("write a real day as YEAR-MONTH-DAY, 2026-01-31"))
            value = dt.date(1970, 1, 1)
        return ast.DateValue(value, self._tspan(token))

    def text(self, meta: Any, children: list[Token]) -> ast.TextValue:
        return self._text(children[0])

    def _text(self, token: Token) -> ast.TextValue:
        return ast.TextValue(str(token.value)[1:-1], self._tspan(token))

    def word(self, meta: Any, children: list[Token]) -> ast.WordValue:
        return ast.WordValue(str(children[0].value), self._tspan(children[0]))

    def true(self, meta: Any, children: list[Token]) -> ast.BoolValue:
        return ast.BoolValue(True, self._span(meta))

    def false(self, meta: Any, children: list[Token]) -> ast.BoolValue:
        return ast.BoolValue(False, self._span(meta))


# The options as written in the rules (keywords of the language, never translated).
_OPTION_WORDS = {"approval": "requires approval", "every": "every", "per_invoice": "per invoice",
                 "statement": "with statement"}
# What a malformed name was meant to name; a sentence each, for the translations.
_NAME_ERRORS = {
    "policy": N_("'{name}' is not a valid policy name"),
    "rule": N_("'{name}' is not a valid rule name"),
    "role": N_("'{name}' is not a valid role name"),
}
