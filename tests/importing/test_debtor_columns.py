"""New debtors written column by column hold what `debtor_target` gives each one: the
file's values, the defaults of a new debtor, what an empty column clears, the pause."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from relance.store.importing.columns import DEBTOR_COLUMNS
from relance.store.importing.debtor_columns import (
    DEBTOR_STORED,
    debtor_plan,
    debtor_target,
    new_debtor_columns,
)
from relance.store.importing.debtors import DebtorDraft, DebtorMerger

_SAMPLES: dict[str, list[Any]] = {
    "debtor_name": ["Salon Nantes", "Body Lyon", "Café Brest"],
    "segment": ["franchisee", "smb"],
    "email": ["a@example.fr", "b@example.fr"],
    "phone": ["+33240000000", "+33478000001"],
    "country": ["FR", "BE"],
    "language": ["fr", "en"],
    "payment_method": ["transfer", "cheque"],
    "sales_rep": ["alice", "bruno"],
    "address": ["1 rue Crébillon\n44000 Nantes"],
    "paused_until": [dt.date(2026, 12, 31), dt.date(2027, 1, 15)],
    "risk": [10, 75],
    "is_consumer": [True, False],
    "collector": ["zoe"],
    "tags": [("vip",), ("vip", "north")],
}


def _drafts(rng: random.Random, columns: list[str], count: int) -> list[DebtorDraft]:
    merger = DebtorMerger()
    for index in range(count):
        for row in range(rng.choice((1, 1, 1, 2, 3))):  # some debtors vary
            values = {column: rng.choice(_SAMPLES[column]) for column in columns
                      if rng.random() < 0.7}
            merger.add("CRED", f"D{index}", 2 + index * 3 + row, values)
    return list(merger.drafts.values())


@pytest.mark.parametrize("seed", range(12))
def test_new_debtors_by_column_equal_each_debtors_target(seed: int) -> None:
    rng = random.Random(seed)
    columns = rng.sample(list(DEBTOR_COLUMNS), rng.randint(1, len(DEBTOR_COLUMNS)))
    plan = debtor_plan(columns)
    pauses = "paused_until" in columns
    drafts = _drafts(rng, columns, 40)
    refs = [f"D{index}" for index in range(len(drafts))]
    by_column = new_debtor_columns(drafts, refs, plan, pauses)
    assert set(by_column) == set(DEBTOR_STORED)
    for index, (draft, ref) in enumerate(zip(drafts, refs, strict=True)):
        expected = debtor_target(draft.values, None, ref, plan, pauses)
        assert {name: by_column[name][index] for name in DEBTOR_STORED} == expected, \
            (seed, columns, index)
    assert any(draft.varied for draft in drafts) and not all(d.varied for d in drafts)
