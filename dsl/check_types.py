"""The type check of `relance check`: unknown fields (E201), values of the wrong type for
their field (E202), unknown words and currencies (E203, E204), operators that do not
apply (E205), sets of words tested as one (E206) and fields tested as yes/no that are
not (E207). A condition found broken here is marked so that later checks stay quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from relance.dsl import ast
from relance.dsl.check_walk import ORDERED_TYPES, Workspace, atoms, conditions_of
from relance.dsl.diagnostics import Diagnostic, error, suggestion
from relance.dsl.fields import CUSTOM_PREFIX, FIELDS, FieldSpec, FieldType, lookup
from relance.kernel.i18n import N_, _

# Translated where a message is written, with _().
_TYPE_WORDS = {
    FieldType.DURATION: N_("a duration"),
    FieldType.MONEY: N_("money"),
    FieldType.NUMBER: N_("a number"),
    FieldType.DATE: N_("a date"),
    FieldType.TEXT: N_("text"),
    FieldType.ENUM: N_("a word from a set of values"),
    FieldType.FLAG: N_("yes/no"),
    FieldType.TAGS: N_("a set of words"),
}
_EXAMPLES = {
    FieldType.DURATION: "15d",
    FieldType.MONEY: "500 EUR",
    FieldType.NUMBER: "50",
    FieldType.DATE: "2026-01-31",
    FieldType.TEXT: "'north'",
    FieldType.ENUM: "franchisee",
    FieldType.FLAG: "true",
}


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    """ISO 4217 codes known to babel (the checker refuses others in money literals)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


# Suggested first: a misspelt "EUO" means EUR, not the obsolete European unit XEU.
COMMON_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "CNY", "SEK", "NOK",
                     "DKK", "PLN", "CZK", "HUF", "RON", "MAD", "TND", "XOF", "XAF", "XPF")


def currency_hint(code: str) -> str | None:
    return suggestion(code, COMMON_CURRENCIES) or suggestion(code, currencies())


def _value_type(value: ast.Scalar) -> str:
    match value:
        case ast.Duration():
            return "duration"
        case ast.MoneyValue():
            return "money"
        case ast.NumberValue():
            return "number"
        case ast.DateValue():
            return "date"
        case ast.TextValue():
            return "text"
        case ast.WordValue():
            return "word"
        case ast.BoolValue():
            return "flag"
    return "value"  # pragma: no cover


_VALUE_WORDS = {"duration": N_("a duration"), "money": N_("money"), "number": N_("a number"),
                "date": N_("a date"), "text": N_("a quoted text"), "word": N_("a word"),
                "flag": N_("true/false")}
_ACCEPTS: dict[FieldType, frozenset[str]] = {
    FieldType.DURATION: frozenset({"duration"}),
    FieldType.MONEY: frozenset({"money"}),
    FieldType.NUMBER: frozenset({"number"}),
    FieldType.DATE: frozenset({"date"}),
    FieldType.TEXT: frozenset({"text", "word"}),
    FieldType.ENUM: frozenset({"text", "word"}),
    FieldType.FLAG: frozenset({"flag"}),
    FieldType.TAGS: frozenset(),
}


def _show(value: ast.Scalar) -> str:
    match value:
        case ast.Duration():
            return str(value)
        case ast.MoneyValue():
            return f"{value.amount} {value.currency}"
        case ast.NumberValue():
            return str(value.value)
        case ast.DateValue():
            return value.value.isoformat()
        case ast.TextValue():
            return f"'{value.value}'"
        case ast.WordValue():
            return value.value
        case ast.BoolValue():
            return "true" if value.value else "false"
    return "?"  # pragma: no cover


def _unknown_field(ref: ast.FieldRef) -> Diagnostic:
    hint = suggestion(ref.name, FIELDS)
    if hint is None and "." in ref.name and not ref.name.startswith(CUSTOM_PREFIX):
        hint = _("custom columns are written {prefix}NAME").format(prefix=CUSTOM_PREFIX)
    return error("E201", _("unknown field '{field}'").format(field=ref.name), ref.span, hint)


def _value_fits(spec: FieldSpec, value: ast.Scalar, subject: str) -> Iterator[Diagnostic]:
    """Is `value` of the field's type, and a known value for it?"""
    kind = _value_type(value)
    if kind not in _ACCEPTS[spec.type]:
        if spec.type is FieldType.DURATION and isinstance(value, ast.NumberValue):
            number = _show(value)
            yield error("E202", _("'{field}' is a duration: '{number}' needs a unit").format(
                            field=spec.name, number=number),
                        value.span,
                        _("write {number}d (days), {number}w (weeks) or {number}bd "
                          "(business days)").format(number=number))
        elif spec.type is FieldType.MONEY and isinstance(value, ast.NumberValue):
            yield error("E202", _("'{field}' is money: '{number}' needs a currency").format(
                            field=spec.name, number=_show(value)),
                        value.span, _("write {number} EUR (or another currency code)").format(
                            number=_show(value)))
        elif isinstance(value, ast.WordValue) and lookup(value.value) is not None:
            yield error("E202", _("'{field}' is compared with the field '{other}'").format(
                            field=spec.name, other=value.value),
                        value.span,
                        _("the right side of a comparison is a value, never a field"))
        else:
            example = _EXAMPLES.get(spec.type)
            yield error(
                "E202",
                _("'{field}' is {type}, not {value_type} ({operator} {value})").format(
                    field=spec.name, type=_(_TYPE_WORDS[spec.type]),
                    value_type=_(_VALUE_WORDS[kind]), operator=subject, value=_show(value)),
                value.span,
                _("compare it with {type}, such as {example}").format(
                    type=_(_TYPE_WORDS[spec.type]), example=example)
                if example else None,
            )
        return
    if isinstance(value, ast.WordValue | ast.TextValue):
        word = value.value
        if spec.name == "currency":
            if word.upper() not in currencies():
                yield error("E204", _("unknown currency '{code}'").format(code=word), value.span,
                        currency_hint(word.upper()))
        elif spec.values and word.lower() not in spec.values:
            choices = ", ".join(spec.values)
            yield error("E203", _("'{field}' is never '{word}': it is one of {choices}").format(
                            field=spec.name, word=word, choices=choices),
                        value.span, suggestion(word.lower(), spec.values))


def _money_currency(value: ast.Scalar) -> Iterator[Diagnostic]:
    if isinstance(value, ast.MoneyValue) and value.currency not in currencies():
        yield error("E204", _("unknown currency '{code}'").format(code=value.currency),
                    value.span, currency_hint(value.currency))


def _check_atom(atom: ast.Condition) -> list[Diagnostic]:
    """The type errors of one leaf condition."""
    found: list[Diagnostic] = []
    match atom:
        case ast.Compare(field=ref, op=op, value=value):
            found.extend(_money_currency(value))
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref), *found]
            if spec.type is FieldType.TAGS:
                found.append(error(
                    "E206", _("'{field}' is a set of words: it cannot be compared with "
                              "'{operator}'").format(field=ref.name, operator=op),
                    atom.span, _("test one word with: {value} in {field}").format(
                        value=_show(value), field=ref.name)))
                return found
            if found:
                return found
            found.extend(_value_fits(spec, value, op))
            if not found and op not in ("=", "!=") and spec.type not in ORDERED_TYPES:
                found.append(error(
                    "E205",
                    _("'{operator}' does not apply to '{field}' ({type})").format(
                        operator=op, field=ref.name, type=_(_TYPE_WORDS[spec.type])),
                    atom.span, _("use = or != (or 'in [...]')")))
        case ast.InList(field=ref, values=values):
            for item in values.items:
                found.extend(_money_currency(item))
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref), *found]
            if spec.type is FieldType.TAGS:
                sample = _show(values.items[0]) if values.items else "'vip'"
                found.append(error(
                    "E206", _("'{field}' is a set of words: test one word at a time").format(
                        field=ref.name),
                    atom.span, _("write {value} in {field}").format(value=sample,
                                                                    field=ref.name)))
                return found
            if spec.type is FieldType.FLAG:
                found.append(error("E205", _("'in' does not apply to '{field}' (yes/no)")
                                   .format(field=ref.name),
                                   atom.span, _("write {field} or not {field}").format(
                                       field=ref.name)))
                return found
            for item in values.items:
                found.extend(_value_fits(spec, item, "in"))
        case ast.HasTag(value=value, field=ref):
            spec = lookup(ref.name)
            left = lookup(value.value) if isinstance(value, ast.WordValue) else None
            if spec is None and left is not None:
                # `segment in franchisee`: a field tested against one bare word.
                found.append(error(
                    "E206", _("'{field}' is a field: 'in' needs a list after it").format(
                        field=value.value),
                    ref.span, _("write {field} in [{value}]").format(field=value.value,
                                                                    value=ref.name)))
            elif spec is None:
                return [_unknown_field(ref)]
            elif spec.type is not FieldType.TAGS:
                shown = _show(value)
                found.append(error(
                    "E206", _("'{field}' is not a set of words: 'in' needs a list here")
                    .format(field=ref.name),
                    ref.span,
                    _("write {field} in [{value}]").format(field=ref.name, value=shown)
                    if left is None else None))
        case ast.FlagTest(field=ref):
            spec = lookup(ref.name)
            if spec is None:
                return [_unknown_field(ref)]
            if spec.type is not FieldType.FLAG:
                example = _EXAMPLES.get(spec.type, "...")
                if spec.type is FieldType.TAGS:
                    hint = _("test one word: 'vip' in {field}").format(field=ref.name)
                elif spec.type in ORDERED_TYPES:
                    hint = _("for example: {field} >= {example}").format(field=ref.name,
                                                                        example=example)
                else:
                    hint = _("for example: {field} = {example}").format(field=ref.name,
                                                                       example=example)
                found.append(error(
                    "E207", _("'{field}' is {type}, not yes/no: compare it with a value")
                    .format(field=ref.name, type=_(_TYPE_WORDS[spec.type])), ref.span, hint))
        case _:
            pass
    return found


def check_types(policy: ast.Policy, workspace: Workspace) -> Iterator[Diagnostic]:
    """Unknown fields, values of the wrong type, unknown enum values and currencies."""
    for condition, _rule in conditions_of(policy):
        bad = False
        for atom in atoms(condition):
            problems = _check_atom(atom)
            if problems:
                bad = True
                yield from problems
        if bad:
            workspace.broken.add(id(condition))
