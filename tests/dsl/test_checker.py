"""`relance check`: what the grammar cannot see, one diagnostic per fault."""

from __future__ import annotations

from relance.dsl.checker import POLICY_CHECKS, WORKSPACE_CHECKS, check_policies
from relance.dsl.loader import load_text
from tests.dsl.helpers import EXAMPLE, codes, parse_ok, report

CATALOGUE = {
    "prevenance": frozenset({"email"}),
    "relance_1": frozenset({"email"}),
    "amiable_2": frozenset({"letter"}),
    "mise_en_demeure": frozenset({"letter"}),
    "late_alert": frozenset({"notify"}),
}


def test_the_franchise_example_checks_clean() -> None:
    loaded = load_text(EXAMPLE.read_text(encoding="utf-8"), "rules/franchise.rules",
                       catalogue=CATALOGUE)
    assert loaded.diagnostics == ()
    assert loaded.ok


def test_checks_are_plain_functions_in_a_list() -> None:
    assert all(callable(check) for check in [*POLICY_CHECKS, *WORKSPACE_CHECKS])
    assert all(check.__doc__ for check in [*POLICY_CHECKS, *WORKSPACE_CHECKS])


def test_every_field_of_the_contract_is_known() -> None:
    text = """policy p for currency = eur and creditor = acme
rule r:
  when overdue >= 1d and due_in <= 5d and age >= 2w and amount > 10 EUR
    and balance > 0 EUR and issue_date < 2026-01-31 and due_date >= 2025-01-01
    and not disputed and not promised and not promise_broken and not in_plan
    and reminders_sent < 3 and last_action >= 10bd and stage = reminder
    and segment = franchisee and country in [fr, be] and payment_method = transfer
    and language = fr and 'vip' not in tags and not paused and risk <= 80
    and debtor_balance >= 100 EUR and debtor_overdue >= 50 EUR and sales_rep = alice
    and attr.region = 'north'
  then call
"""
    assert codes(text) == []


def test_enum_values_compare_case_insensitively() -> None:
    assert codes("policy p when stage = AMICABLE and not paused then call") == []
    assert codes("policy p when currency in [eur, 'USD'] and not paused then call") == []


def test_unknown_enum_value_with_a_suggestion() -> None:
    assert "did you mean 'litigation'?" in report(
        "policy p when stage = litigaton and not paused then call")


def test_a_template_unknown_only_without_a_catalogue_is_not_checked() -> None:
    text = "policy p when not paused then send letter 'nowhere'"
    assert codes(text) == []
    assert codes(text, CATALOGUE) == ["E212"]


def test_notify_templates_are_looked_up_on_the_notify_channel() -> None:
    assert codes("policy p when overdue > 5d then notify sales_rep 'late_alert'",
                 CATALOGUE) == []
    assert codes("policy p when overdue > 5d then notify sales_rep 'relance_1'",
                 CATALOGUE) == ["E212"]


def test_after_a_quoted_unnamed_rule_identity() -> None:
    text = """policy p
when overdue >= 15d and not paused then send letter 'amiable_2'
rule demeure: when after 'letter amiable_2' by 15d and not paused then call
"""
    assert codes(text) == []
    assert "did you mean 'letter amiable_2'?" in report(
        text.replace("'letter amiable_2' by", "'letter amiable2' by"))


def test_after_itself_is_allowed_with_every() -> None:
    text = "policy p\nrule r: when overdue >= 1d and after r by 7d and not paused then call"
    assert codes(text) == ["E211"]
    assert codes(text + ", every 7d") == []


def test_unknown_field_is_reported_once_not_also_as_a_type_error() -> None:
    assert codes("policy p when overdeu >= 15 and not paused then call") == ["E201"]


def test_empty_ranges() -> None:
    for condition in (
        "overdue >= 30d and overdue < 10d",
        "overdue > 5d and overdue < 6d",  # whole days: nothing strictly between
        "overdue >= 2w and overdue <= 13d",
        "paused and not paused",
        "stage = amicable and stage = litigation",
        "segment in [a, b] and segment not in [a, b]",
        "risk > 50 and not (risk > 40)",
        "issue_date > 2026-01-31 and issue_date < 2026-02-01",
        "balance > 100 EUR and balance < 50 EUR",
        "segment in []",
    ):
        assert "E230" in codes(f"policy p when {condition} and not paused then call"), condition


def test_ranges_that_can_hold_are_not_reported() -> None:
    for condition in (
        "overdue >= 10d and overdue <= 10d",
        "overdue >= 10bd and overdue < 5d",  # business and calendar days do not compare
        "balance > 100 EUR and balance < 50 USD",  # other currencies never compare
        "paused or not paused",
        "stage = amicable or stage = litigation",
        "risk > 50 and risk != 60",
    ):
        assert "E230" not in codes(f"policy p when {condition} then call"), condition


def test_a_rule_outside_its_policy_scope() -> None:
    text = "policy p for segment = franchisee\nwhen segment = retail and not paused then call"
    assert codes(text) == ["E230"]


def test_shadowed_rules() -> None:
    shadowed = """policy p
rule first: when overdue >= 30d and not paused and segment = retail then call
rule second: when overdue >= 15d and not paused then send email 'relance_1'
"""
    assert codes(shadowed) == ["E231"]
    assert "'second' comes later and holds whenever it does" in report(shadowed)
    # The usual ladder is not shadowed: each later level asks for more.
    ladder = """policy p
rule first: when overdue >= 15d and not paused then call
rule second: when overdue >= 30d and not paused then send email 'relance_1'
"""
    assert codes(ladder) == []


def test_shadowing_through_or_and_lists() -> None:
    text = """policy p
rule first: when segment = retail and overdue >= 10d and not paused then call
rule later: when segment in [retail, franchisee] and (overdue >= 5d or disputed)
  and not paused then send email 'relance_1'
"""
    assert codes(text) == ["E231"]


def test_outbound_rules_must_mind_paused() -> None:
    assert codes("policy p when overdue >= 1d then send letter 'x'") == ["W301"]
    assert codes("policy p for not paused\nwhen overdue >= 1d then send letter 'x'") == []
    assert codes("policy p when overdue >= 1d and paused = false then call") == []
    # Internal messages and escalations are not outbound; approval means a human looks.
    assert codes("policy p when overdue >= 1d then notify sales_rep 'x'") == []
    assert codes("policy p when overdue >= 1d then escalate to amicable") == []
    assert codes("policy p when overdue >= 1d then call, requires approval") == []


def test_money_without_currency_warns_once_per_policy() -> None:
    text = """policy p
rule a: when balance > 10 EUR and not paused then call
rule b: when balance > 100 EUR and not paused then send email 'x'
"""
    assert codes(text) == ["W302"]
    assert codes(text.replace("policy p", "policy p for currency = eur")) == []
    assert codes(text.replace("and not paused", "and currency = eur and not paused")) == []


def test_a_level_that_can_be_jumped_while_a_later_one_waits_for_it() -> None:
    text = """policy p
rule one: when overdue >= 1d and not paused then send email 'relance_1'
rule two: when overdue >= 15d and not paused then send letter 'amiable_2'
rule three: when overdue >= 45d and after one by 15d and not paused then call
"""
    assert codes(text) == ["W303"]
    # A later level that waits for it (even through another) cannot jump it.
    chained = text.replace("rule two: when overdue >= 15d",
                           "rule two: when overdue >= 15d and after one by 5d")
    assert codes(chained) == []
    # Neither can one that never holds together with it.
    apart = text.replace("rule two: when overdue >= 15d",
                         "rule two: when overdue >= 15d and segment = a").replace(
        "rule one: when overdue >= 1d", "rule one: when overdue >= 1d and segment = b")
    assert codes(apart) == []


def test_duplicate_identities_and_policy_names_across_files() -> None:
    first = parse_ok("policy p when not paused then call", "a.rules")
    second = parse_ok("policy p when not paused then call", "b.rules")
    found = check_policies([first, second])
    assert [(d.code, d.span.file) for d in found] == [("E221", "b.rules")]
    assert codes("policy p\nwhen not paused then call\nwhen not paused then call") == [
        "E220"]


def test_a_file_without_policy_is_a_warning() -> None:
    assert codes("# nothing\n") == ["W305"]


def test_warnings_alone_keep_the_rules_usable() -> None:
    loaded = load_text("policy p when overdue >= 1d then send letter 'x'")
    assert loaded.ok and [d.code for d in loaded.diagnostics] == ["W301"]


def test_levels_whose_rule_was_removed_are_listed() -> None:
    rule_file = parse_ok("policy p\nrule kept: when not paused then call\n", "p.rules")
    levels = {("p", "kept"): 4, ("p", "gone"): 2, ("old", "x"): 1, ("p", "empty"): 0}
    found = check_policies([rule_file], levels=levels)
    assert [(d.code, d.message) for d in found] == [
        ("W306", "1 open invoice sits on policy 'old', which is no longer in the rules"),
        ("W306", "2 open invoices sit on rule 'gone' of policy 'p', which is no longer "
                 "there"),
    ]
    assert str(found[1].span) == "p.rules:1:1"
