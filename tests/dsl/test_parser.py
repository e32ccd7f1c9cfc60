"""The grammar: every construct of the language contract becomes the right tree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from relance.dsl import ast
from relance.dsl.parser import parse_text
from tests.dsl.helpers import EXAMPLE, condition, only_rule, parse_ok


def test_the_franchise_example_parses_into_two_policies_of_levels() -> None:
    rule_file = parse_ok(EXAMPLE.read_text(encoding="utf-8"), "rules/franchise.rules")
    franchise, calls = rule_file.policies
    assert franchise.name == "franchise"
    assert franchise.scope == ast.Compare(ast.FieldRef("segment"), "=",
                                          ast.WordValue("franchisee"))
    assert [rule.identity for rule in franchise.rules] == [
        "prevenance", "relance_1", "letter amiable_2", "mise_en_demeure", "escalate"]
    assert [rule.identity for rule in calls.rules] == ["call_big"]
    assert franchise.rules[3].options.requires_approval
    assert franchise.rules[4].actions == (ast.Escalate("amicable"),)
    assert calls.rules[0].actions == (ast.CallTask("high"),)
    assert [c.text for c in rule_file.comments] == [
        "# rules/franchise.rules — dunning of the franchise network",
        "# a second, independent track: phone calls on large balances",
    ]


def test_the_unnamed_rule_of_the_design_card_parses_as_written() -> None:
    rule = only_rule(
        "policy p\nwhen overdue >= 15d and segment = franchisee and not paused "
        "then send letter 'amiable_2' with tone soft")
    assert rule.name is None
    assert rule.identity == "letter amiable_2"
    assert rule.condition == ast.And((
        ast.Compare(ast.FieldRef("overdue"), ">=", ast.Duration(15, "d")),
        ast.Compare(ast.FieldRef("segment"), "=", ast.WordValue("franchisee")),
        ast.Not(ast.FlagTest(ast.FieldRef("paused"))),
    ))
    assert rule.actions == (ast.Send("letter", "amiable_2", "soft"),)


def test_every_node_knows_its_file_line_and_column() -> None:
    rule_file = parse_ok(EXAMPLE.read_text(encoding="utf-8"), "rules/franchise.rules")
    rule = rule_file.policies[0].rules[2]
    assert str(rule.span) == "rules/franchise.rules:12:1"
    assert isinstance(rule.condition, ast.And)
    compare = rule.condition.operands[0]
    assert isinstance(compare, ast.Compare)
    assert (compare.span.line, compare.span.column) == (12, 6)
    assert (compare.field.span.column, compare.value.span.column) == (6, 17)
    action = rule.actions[0]
    assert str(action.span) == "rules/franchise.rules:12:66"


def test_durations_money_dates_numbers_texts_words_and_booleans() -> None:
    rule = only_rule(
        "policy p\nwhen overdue >= 15d and age < 2w and last_action >= 10bd "
        "and balance >= 1250.50 EUR and issue_date < 2026-01-31 and risk > 50 "
        "and attr.region = 'north' and country = fr and disputed = false then call")
    values = [part.value for part in rule.condition.operands]  # type: ignore[union-attr]
    assert values == [
        ast.Duration(15, "d"), ast.Duration(2, "w"), ast.Duration(10, "bd"),
        ast.MoneyValue(Decimal("1250.50"), "EUR"), ast.DateValue(dt.date(2026, 1, 31)),
        ast.NumberValue(Decimal(50)), ast.TextValue("north"), ast.WordValue("fr"),
        ast.BoolValue(False),
    ]
    money = values[3]
    assert isinstance(money, ast.MoneyValue) and str(money.amount) == "1250.50"
    assert ast.Duration(2, "w").calendar_days == 14


def test_negative_durations_and_money_currency_is_upper_cased() -> None:
    assert condition("overdue >= -5d") == ast.Compare(
        ast.FieldRef("overdue"), ">=", ast.Duration(-5, "d"))
    assert condition("balance > 10 eur") == ast.Compare(
        ast.FieldRef("balance"), ">", ast.MoneyValue(Decimal(10), "EUR"))


def test_lists_membership_and_tags() -> None:
    assert condition("segment in [franchisee, 'retail',]") == ast.InList(
        ast.FieldRef("segment"),
        ast.ListValue((ast.WordValue("franchisee"), ast.TextValue("retail"))))
    assert condition("country not in [fr, be]") == ast.InList(
        ast.FieldRef("country"), ast.ListValue((ast.WordValue("fr"), ast.WordValue("be"))),
        negated=True)
    assert condition("'vip' in tags") == ast.HasTag(ast.TextValue("vip"), ast.FieldRef("tags"))
    assert condition("vip not in tags") == ast.HasTag(
        ast.WordValue("vip"), ast.FieldRef("tags"), negated=True)


def test_after_a_bare_name_or_a_quoted_identity() -> None:
    assert condition("after relance_1 by 15d") == ast.After("relance_1", ast.Duration(15, "d"))
    assert condition("after 'letter amiable_2' by 2w") == ast.After(
        "letter amiable_2", ast.Duration(2, "w"))


def test_custom_columns_are_attr_fields() -> None:
    compare = condition("attr.region = 'north'")
    assert isinstance(compare, ast.Compare) and compare.field.is_custom


def test_precedence_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    a, b, c = (ast.FlagTest(ast.FieldRef(name)) for name in ("paused", "disputed", "promised"))
    assert condition("not paused and disputed or promised") == ast.Or(
        (ast.And((ast.Not(a), b)), c))
    assert condition("paused or disputed and promised") == ast.Or((a, ast.And((b, c))))
    assert condition("not (paused or disputed)") == ast.Not(ast.Or((a, b)))
    assert condition("(paused or disputed) and promised") == ast.And((ast.Or((a, b)), c))


def test_several_actions_joined_by_and_after_then() -> None:
    rule = only_rule(
        "policy p\nrule both: when overdue >= 45d and not paused "
        "then send letter 'x' and send email 'y' with tone firm and call with priority low "
        "and notify sales_rep 'late_alert' and escalate to litigation")
    assert rule.actions == (
        ast.Send("letter", "x"), ast.Send("email", "y", "firm"), ast.CallTask("low"),
        ast.Notify("sales_rep", "late_alert"), ast.Escalate("litigation"))
    assert rule.needs_approval


def test_options_in_any_order() -> None:
    rule = only_rule("policy p\nrule r: when paused then call, per invoice, every 2w, "
                     "requires approval")
    assert rule.options == ast.Options(requires_approval=True, every=ast.Duration(2, "w"),
                                       per_invoice=True)


def test_layout_carries_no_meaning() -> None:
    one_line = parse_ok("policy p for segment = franchisee rule r: when overdue >= 1d "
                        "then call when paused then send sms 'x'")
    spread = parse_ok("""
        policy   p
          for segment
            = franchisee
        rule r
          :
            when overdue >= 1d    then
          call
        when paused then
            send sms 'x'
    """)
    assert one_line == spread


def test_a_rule_may_be_called_like_a_keyword() -> None:
    rule = only_rule("policy p\nrule escalate: when paused then escalate to amicable")
    assert rule.identity == "escalate"


def test_comments_are_kept_with_their_place() -> None:
    rule_file = parse_ok("# top\npolicy p  # after the header\n"
                         "rule r: when paused # inside\n then call\n")
    assert [(c.text, c.span.line, c.span.column) for c in rule_file.comments] == [
        ("# top", 1, 1), ("# after the header", 2, 11), ("# inside", 3, 21)]


def test_an_empty_file_or_only_comments_is_no_policy() -> None:
    assert parse_ok("").policies == ()
    assert parse_ok("# nothing yet\n").policies == ()


def test_spans_do_not_take_part_in_equality() -> None:
    first, _ = parse_text("policy p\nwhen paused then call", "a.rules")
    second, _ = parse_text("\n\n   policy p when paused then call", "b.rules")
    assert first is not None and second is not None
    assert first.policies == second.policies
