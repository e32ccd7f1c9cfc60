"""A column's reader remembers what it read in a file's earlier batches: each distinct
date, code or currency is read once per file, a refused cell every time it comes, and
what it remembers is bounded."""

from __future__ import annotations

from collections import Counter

import pytest

from relance.store.importing import columnar
from relance.store.importing.columnar import SLOW, _Distinct


def _counted() -> tuple[_Distinct, Counter[str]]:
    calls: Counter[str] = Counter()

    def convert(cell: str) -> object:
        calls[cell] += 1
        return SLOW if cell.startswith("bad") else cell.upper()

    return _Distinct(convert), calls


def test_each_distinct_cell_is_read_once_per_file_and_refused_ones_each_time() -> None:
    reader, calls = _counted()
    slow: set[int] = set()
    assert reader(["a", "b", "a"], slow) == ["A", "B", "A"] and not slow
    assert reader(["b", "a", "b", "a"], slow) == ["B", "A", "B", "A"] and not slow
    second: set[int] = set()
    values = reader(["a", "bad", "c", "bad"], second)
    assert values == ["A", SLOW, "C", SLOW] and second == {1, 3}
    third: set[int] = set()
    assert reader(["bad", "a"], third) == [SLOW, "A"] and third == {0}
    assert calls == Counter({"a": 1, "b": 1, "c": 1, "bad": 2})


def test_what_a_reader_remembers_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "MEMO_MAX", 5)
    reader, calls = _counted()
    for start in range(0, 40, 4):
        batch = [f"cell{index}" for index in range(start, start + 4)]
        assert reader(batch) == [cell.upper() for cell in batch]
    assert len(reader._known) == 5
    reader([f"cell{index}" for index in range(40)])  # the first five are remembered
    assert calls["cell0"] == 1 and calls["cell39"] == 2
