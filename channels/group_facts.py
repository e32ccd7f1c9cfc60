"""What the template contexts of a claimed group read from the book, read once for the
group: their invoices, and every live action holding one of them (what
`channels.context` needs to say whether a debtor was reminded before and whether a
registered letter goes along). The dispatcher reads them in the transaction that builds
the contexts, so they are what each action's own queries would have found; the queries
per action were, by profile, a quarter of an e-mail's cost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from relance.store.models import VOID_ACTION_STATES, Action, ActionItem, Invoice, ItemState


@dataclass(frozen=True)
class _LiveHolder:
    """An action, not rejected, cancelled or failed, holding an invoice as active item."""

    action_id: int
    channel: str
    template: str | None
    created_on: dt.date


@dataclass(frozen=True)
class GroupFacts:
    """What the contexts of a group of actions read from the book, fetched for the group
    at once (`group_facts`) instead of by each action's context: their invoices, and
    every live action holding one of them (for `reminded_before` and
    `registered_letter_too`)."""

    invoices: dict[int, Invoice]
    holders: dict[int, list[_LiveHolder]]
    # creditor id -> its logo's URL (or None), looked for once in the group.
    logos: dict[int, str | None] = field(default_factory=dict)

    def other_holders(self, action: Action, invoice_ids: Sequence[int]) -> list[_LiveHolder]:
        return [h for i in invoice_ids for h in self.holders.get(i, [])
                if h.action_id != action.id]


# Ids per IN (...) list: far under SQLite's and PostgreSQL's bound parameter limits.
_IDS_PER_QUERY = 500


def group_facts(session: Session, actions: Sequence[Action],
                known: Mapping[int, Invoice] | None = None) -> GroupFacts:
    """The `GroupFacts` of `actions` (their items loaded), in two queries per 500
    invoices. Read in the transaction that builds the contexts, they are what each
    action's own queries would have found. `known`: invoices already read (by the
    claim, in the state it checked the actions against), taken as they are."""
    wanted = sorted({i.invoice_id for a in actions for i in a.items
                     if i.state == ItemState.ACTIVE})
    known = known or {}
    invoices: dict[int, Invoice] = {i: known[i] for i in wanted if i in known}
    holders: dict[int, list[_LiveHolder]] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        part = wanted[start:start + _IDS_PER_QUERY]
        unknown = [i for i in part if i not in invoices]
        if unknown:
            invoices.update((inv.id, inv) for inv in session.scalars(
                select(Invoice).where(Invoice.id.in_(unknown))))
        rows = session.execute(
            select(ActionItem.invoice_id, Action.id, Action.channel, Action.template,
                   Action.created_on)
            .join(Action, Action.id == ActionItem.action_id)
            .where(ActionItem.invoice_id.in_(part), ActionItem.state == ItemState.ACTIVE,
                   Action.state.not_in(list(VOID_ACTION_STATES))))
        for invoice_id, action_id, channel, template, created_on in rows:
            holders.setdefault(invoice_id, []).append(
                _LiveHolder(action_id, str(channel), template, created_on))
    return GroupFacts(invoices, holders)


__all__ = ["GroupFacts", "group_facts"]
