"""Hypothesis strategies for syntax trees of the policy language: every construct, in
shapes the printer must render so that parsing gives the same tree back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from relance.dsl import ast
from relance.dsl.fields import FIELDS
from relance.dsl.parser import KEYWORDS

_FIRST = "abcdefghijklmnopqrstuvwxyz_"
identifiers = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_FIRST), st.text(_FIRST + "0123456789", max_size=8),
).filter(lambda word: word not in KEYWORDS)
# Keywords are reserved only where a name could stand in their place: a rule may be
# called `escalate`, a word value may be `call`.
names = st.one_of(identifiers, st.sampled_from(KEYWORDS))
words = names.filter(lambda word: word not in ("true", "false"))
field_names = st.one_of(st.sampled_from(sorted(FIELDS)), identifiers,
                        identifiers.map(lambda word: f"attr.{word}"),
                        st.sampled_from(KEYWORDS).filter(lambda w: w not in ("not", "after")))
fields = field_names.map(ast.FieldRef)

# Quoted texts: one line, never both kinds of quote (the language has no escapes).
_plain = st.text(st.characters(blacklist_categories=("Cc", "Cs"),
                               blacklist_characters="'\"\n\r\x85\u2028\u2029"), max_size=12)
texts = st.one_of(_plain, _plain.map(lambda s: s + "'"), _plain.map(lambda s: '"' + s))
templates = texts.filter(lambda s: s.strip() != "")

durations = st.builds(ast.Duration, st.integers(-400, 4000), st.sampled_from(["d", "w", "bd"]))
decimals = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2,
                       allow_nan=False, allow_infinity=False)
currencies = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
scalars: st.SearchStrategy[ast.Scalar] = st.one_of(
    durations,
    st.builds(ast.MoneyValue, decimals, currencies),
    st.builds(ast.NumberValue, st.one_of(decimals, st.integers(-10**6, 10**6).map(Decimal))),
    st.builds(ast.DateValue, st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31))),
    st.builds(ast.TextValue, texts),
    st.builds(ast.WordValue, words),
    st.builds(ast.BoolValue, st.booleans()),
)
lists = st.builds(ast.ListValue, st.lists(scalars, max_size=4).map(tuple))

leaves: st.SearchStrategy[ast.Condition] = st.one_of(
    st.builds(ast.Compare, fields, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
              scalars),
    st.builds(ast.InList, fields, lists, st.booleans()),
    st.builds(ast.HasTag, st.one_of(st.builds(ast.TextValue, texts),
                                    # At the start of a condition `not` and `after`
                                    # are keywords, so no bare word can be either.
                                    st.builds(ast.WordValue, field_names.filter(
                                        lambda w: "." not in w))),
              fields, st.booleans()),
    st.builds(ast.FlagTest, fields),
    st.builds(ast.After, st.one_of(names, templates), durations),
)


def _compound(children: st.SearchStrategy[ast.Condition]) -> st.SearchStrategy[ast.Condition]:
    several = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(ast.Not, children), st.builds(ast.And, several),
                     st.builds(ast.Or, several))


conditions = st.recursive(leaves, _compound, max_leaves=8)

actions: st.SearchStrategy[ast.ActionSpec] = st.one_of(
    st.builds(ast.Send, st.sampled_from(["letter", "email", "sms"]), templates,
              st.none() | names),
    st.builds(ast.CallTask, st.sampled_from([None, "low", "normal", "high"])),
    st.builds(ast.Notify, names, templates),
    st.builds(ast.Escalate, st.sampled_from(["amicable", "litigation"])),
)
options = st.builds(ast.Options, st.booleans(), st.none() | durations, st.booleans())


@st.composite
def rules(draw: st.DrawFn) -> ast.Rule:
    name = draw(st.none() | names)
    count = 1 if name is None else draw(st.integers(1, 3))
    chosen = tuple(draw(actions) for _ in range(count))
    return ast.Rule(name, draw(conditions), chosen, draw(options))


policies = st.builds(ast.Policy, names, st.none() | conditions,
                     st.lists(rules(), max_size=4).map(tuple))
rule_files = st.builds(ast.RuleFile, st.just("gen.rules"),
                       st.lists(policies, max_size=3).map(tuple))
