"""What a run writes for each action it queues beyond its shape, worked out once.

A first run queues tens of thousands of actions, and for each it hashes what the action
will send (`store.content.content_hash`) and writes one event whose data the log hashes
(`engine.eventlog`). Both serialise a small dict of known keys to canonical JSON (sorted
keys, no spaces); `json.dumps` does so through a new encoder and a dict per call, a
tenth of a first run's writing. Here the same text is put together from its parts.
Whether the action needs approval or carries the statement, read by its row, its hash
and its event alike, is asked of each rule once (`action_texts`).

The texts must stay byte for byte those of the general functions: an approval is bound
to the content hash that dispatch recomputes with `content_hash`, and `audit.verify`
recomputes each event's hash from its stored data. tests/engine/test_run_texts.py holds
them to it over awkward values (quotes, accents, None, several lines).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import TYPE_CHECKING, NamedTuple

from relance.dsl.check_options import STATEMENT_CHANNELS
from relance.engine.bulk import JsonText

if TYPE_CHECKING:
    from relance.engine.run import PendingAction


def _ascii(value: str | None) -> str:
    """A JSON string or null, as `json.dumps` writes it by default (non-ASCII escaped)."""
    return "null" if value is None else encode_basestring_ascii(value)


def _kept(value: str | None) -> str:
    """A JSON string or null, non-ASCII kept (the event log's `ensure_ascii=False`)."""
    return "null" if value is None else encode_basestring(value)


def content_digest(*, debtor_id: int, channel: str, template: str | None, tone: str | None,
                   target_stage: str | None, lines: Iterable[tuple[int, int, str]],
                   statement: bool) -> str:
    """`store.content.content_hash` of the same values (`lines`: invoice id, balance in
    minor units, currency)."""
    listed = ",".join(f"[{invoice},{balance},{encode_basestring_ascii(currency)}]"
                      for invoice, balance, currency in sorted(lines))
    text = (f'{{"channel":{_ascii(channel)},"debtor":{debtor_id},"lines":[{listed}],'
            f'"stage":{_ascii(target_stage)},'
            + ('"statement":true,' if statement else "")
            + f'"template":{_ascii(template)},"tone":{_ascii(tone)}}}')
    return hashlib.sha256(text.encode()).hexdigest()


def queued_event_data(*, run_id: int, channel: str, template: str | None,
                      invoices: Sequence[str], rules: Sequence[str], state: str) -> JsonText:
    """The data of a run's `action.queued` (or `action.items_added`) event, as the event
    log's canonical JSON of {"run", "channel", "template", "invoices", "rules", "state"}."""
    return JsonText(
        f'{{"channel":{_kept(channel)},'
        f'"invoices":[{",".join(map(encode_basestring, invoices))}],'
        f'"rules":[{",".join(map(encode_basestring, rules))}],'
        f'"run":{run_id},"state":{_kept(state)},"template":{_kept(template)}}}')


class ActionTexts(NamedTuple):
    """What an action's rows say beyond its shape (`action_texts`)."""

    needs_approval: bool
    with_statement: bool
    content_hash: str
    invoices: list[str]  # the invoices' numbers, as the event lists them
    rules: list[str]  # "policy/rule", as the event lists them


def action_texts(pending: PendingAction, traits: dict[int, tuple[bool, bool]]
                 ) -> ActionTexts:
    """The same answers as `PendingAction`'s properties and `content_hash`, each rule's
    traits (needs approval, asks for the statement) read from `traits` by the rule's id
    and added there the first time: most actions hold one item, and their rules are a
    handful."""
    items = pending.items
    shape = pending.shape
    found = []
    for item in items:
        rule = item.acting.rule
        trait = traits.get(id(rule))
        if trait is None:
            trait = traits[id(rule)] = (rule.needs_approval, rule.options.with_statement)
        found.append(trait)
    statement = shape.channel in STATEMENT_CHANNELS and any(t[1] for t in found)
    needs = any(t[0] for t in found)
    if len(items) == 1:
        acting = items[0].acting
        lines: Iterable[tuple[int, int, str]] = (
            (acting.invoice_id, acting.balance_minor, acting.currency),)
        invoices = [acting.number]
        rules = [f"{acting.policy.name}/{acting.rule.identity}"]
    else:
        # One line per invoice even when two policies put it in the same letter.
        lines = {item.acting.invoice_id: (item.acting.invoice_id, item.acting.balance_minor,
                                          item.acting.currency) for item in items}.values()
        invoices = sorted({item.acting.number for item in items})
        rules = sorted({f"{item.acting.policy.name}/{item.acting.rule.identity}"
                        for item in items})
    digest = content_digest(debtor_id=shape.debtor_id, channel=shape.channel,
                            template=shape.template, tone=shape.tone,
                            target_stage=shape.target_stage, lines=lines,
                            statement=statement)
    return ActionTexts(needs, statement, digest, invoices, rules)
