"""A run's texts written out directly are byte for byte the general functions'."""

from __future__ import annotations

import json

import pytest

from relance.dsl.ast import Policy, Rule
from relance.engine.evaluate import Acting
from relance.engine.eventlog import _CANONICAL
from relance.engine.run import group
from relance.engine.run_texts import action_texts, content_digest, queued_event_data
from relance.store.content import ContentLine, content_hash
from tests.engine.helpers import rules_from

AWKWARD = [None, "relance_2", 'lettre "ferme"', "échéance dépassée", "back\\slash", "\u00a0€\n"]


@pytest.mark.parametrize("template", AWKWARD)
@pytest.mark.parametrize("statement", [False, True])
def test_content_digest_is_the_content_hash(template: str | None, statement: bool) -> None:
    lines = [(42, 123_456, "EUR"), (7, -5, "CHF"), (42_000_001, 0, "EUR")]
    for tone, stage in [(None, None), (template, "contentieux"), ("ferme", template)]:
        expected = content_hash(debtor_id=913, channel="letter", template=template,
                                tone=tone, target_stage=stage,
                                lines=[ContentLine(*line) for line in lines],
                                statement=statement)
        assert content_digest(debtor_id=913, channel="letter", template=template, tone=tone,
                              target_stage=stage, lines=lines, statement=statement) == expected
        # One line, as most actions hold.
        assert content_digest(
            debtor_id=1, channel="email", template=template, tone=tone, target_stage=stage,
            lines=lines[:1], statement=statement,
        ) == content_hash(debtor_id=1, channel="email", template=template, tone=tone,
                          target_stage=stage, lines=[ContentLine(*lines[0])],
                          statement=statement)


def test_a_different_line_gives_a_different_digest() -> None:
    def digest(balance: int) -> str:
        return content_digest(debtor_id=1, channel="letter", template="t", tone=None,
                              target_stage=None, lines=[(1, balance, "EUR")], statement=False)

    assert digest(100) != digest(101)


@pytest.mark.parametrize("text", AWKWARD)
def test_queued_event_data_is_the_logs_canonical_json(text: str | None) -> None:
    invoices, rules = ["F-001", text or "F-002"], [f"standard/{text}"]
    data = {"run": 12, "channel": "letter", "template": text, "invoices": invoices,
            "rules": rules, "state": "approved"}
    written = queued_event_data(run_id=12, channel="letter", template=text,
                                invoices=invoices, rules=rules, state="approved")
    assert written == _CANONICAL(data)
    assert json.loads(written) == data


def test_action_texts_agree_with_the_pending_actions_own_answers() -> None:
    """Approval, statement and content hash worked out once per action are what
    `PendingAction` answers, for actions of one item and of several, the same invoice
    in two policies among them."""
    loaded = rules_from(
        "policy first\n"
        "rule a: when overdue >= 5d and not paused then send letter 'r1', with statement\n"
        "rule b: when overdue >= 10d and not paused then send letter 'r1', "
        "requires approval\n"
        "policy second\n"
        "rule c: when overdue >= 1d and not paused then send letter 'r1'\n"
        "rule d: when overdue >= 30d and not paused then call\n")
    first, second = loaded.policies
    a, b = first.rules
    c, d = second.rules

    def acting(policy: Policy, rule: Rule, invoice: int, debtor: int) -> Acting:
        return Acting(policy, rule, invoice, f"F-{invoice}", 1, debtor, 100 * invoice,
                      "EUR", {})

    groups = group([acting(first, a, 1, 10), acting(first, b, 2, 10),
                    acting(first, b, 3, 11), acting(second, c, 1, 10),
                    acting(second, c, 4, 12), acting(second, d, 5, 13)])
    assert any(len(pending.items) > 1 for pending in groups)
    traits: dict[int, tuple[bool, bool]] = {}
    for pending in groups:
        texts = action_texts(pending, traits)
        assert texts.needs_approval == pending.needs_approval
        assert texts.with_statement == pending.with_statement
        assert texts.content_hash == pending.content_hash()
        assert texts.invoices == sorted({item.acting.number for item in pending.items})
        assert texts.rules == sorted({f"{item.acting.policy.name}/{item.acting.rule.identity}"
                                      for item in pending.items})
    assert {(p.needs_approval, p.with_statement) for p in groups} >= {(True, True),
                                                                       (True, False),
                                                                       (False, False)}
