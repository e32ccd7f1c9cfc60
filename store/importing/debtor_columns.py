"""The debtor table's columns as an invoice file fills them: which file column sets
which field, what an empty column clears, and a new debtor's defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relance.store.importing.columns import DEBTOR_COLUMNS
from relance.store.importing.debtors import DRAFT_SLOT, UNSET, DebtorDraft

PAUSE_REASON = "imported"
"""The pause reason of a debtor paused by a file's `paused_until`."""

# Import column -> debtor table column, for the plain (one-column) debtor fields.
DEBTOR_FIELD = {
    "debtor_name": "name", "segment": "segment", "email": "email", "phone": "phone",
    "country": "country", "language": "language", "payment_method": "payment_method",
    "sales_rep": "sales_rep", "address": "address", "paused_until": "paused_until",
    "risk": "risk", "is_consumer": "is_consumer", "collector": "collector",
}
# What a column present in the file but empty on every row of a debtor sets.
CLEARED: dict[str, Any] = {
    "segment": "", "email": None, "phone": None, "payment_method": "", "sales_rep": None,
    "address": "", "paused_until": None, "risk": None, "is_consumer": False,
    "collector": None,
}
# Defaults of a new debtor for columns the file does not have.
NEW_DEBTOR: dict[str, Any] = {
    "name": "", "segment": "", "email": None, "phone": None, "address": "", "country": "FR",
    "language": "fr", "payment_method": "", "sales_rep": None, "risk": None,
    "paused_until": None, "pause_reason": None, "is_consumer": False, "collector": None,
}
DEBTOR_STORED = tuple(NEW_DEBTOR)

DebtorPlan = list[tuple[int, str, Any]]
"""For each debtor column of a file (tags aside): its slot in a draft, the debtor
table's column, and what an empty column sets (UNSET: nothing)."""


def debtor_plan(columns: Sequence[str]) -> DebtorPlan:
    return [(DRAFT_SLOT[column], DEBTOR_FIELD[column], CLEARED.get(column, UNSET))
            for column in columns if column != "tags"]


def debtor_target(values: list[Any], stored: tuple[Any, ...] | None, ref: str,
                  plan: DebtorPlan, pauses: bool) -> dict[str, Any]:
    """The debtor's columns once a file's `values` (a draft's) are applied to what is
    stored (None: a new debtor); `pauses` when the file has a `paused_until` column."""
    target = dict(NEW_DEBTOR) if stored is None else dict(zip(DEBTOR_STORED, stored,
                                                                strict=True))
    if stored is None:
        target["name"] = ref  # replaced by debtor_name, checked at the end of the file
    for position, name, cleared in plan:
        value = values[position]
        if value is not UNSET:
            target[name] = value
        elif cleared is not UNSET:
            target[name] = cleared
    if pauses:
        if target["paused_until"] is None:
            target["pause_reason"] = None
        elif target["pause_reason"] is None:
            target["pause_reason"] = PAUSE_REASON
    return target


def new_debtor_columns(drafts: Sequence[DebtorDraft], refs: Sequence[str], plan: DebtorPlan,
                       pauses: bool) -> dict[str, list[Any]]:
    """`debtor_target` of new debtors, column by column: what each table column gets.

    Most drafts hold one set of values (a dict of the columns given): a column is then
    one `dict.get` per debtor, with its default, rather than a dict of every column per
    debtor (a file may name hundreds of thousands of debtors). Drafts that met several
    sets go through `debtor_target`."""
    count = len(drafts)
    lasts = [draft.last or {} for draft in drafts]
    columns = {name: [NEW_DEBTOR[name]] * count for name in DEBTOR_STORED}
    columns["name"] = list(refs)  # replaced by debtor_name, checked at the file's end
    for position, name, cleared in plan:
        column = DEBTOR_COLUMNS[position]
        if cleared is UNSET:
            columns[name] = [last.get(column, default)
                             for last, default in zip(lasts, columns[name], strict=True)]
        else:
            columns[name] = [last.get(column, cleared) for last in lasts]
    if pauses:
        columns["pause_reason"] = [None if until is None else PAUSE_REASON
                                   for until in columns["paused_until"]]
    for index, draft in enumerate(drafts):
        if draft.varied:
            target = debtor_target(draft.values, None, refs[index], plan, pauses)
            for name in DEBTOR_STORED:
                columns[name][index] = target[name]
    return columns
