"""Every probe of the hostile corpus, run on a copy of the seed workspace through the real
command line (and on PostgreSQL too for those that say so). `python -m tests.hostile.report`
prints the counts per family."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL
from tests.hostile.bench import Bench, copy_seed
from tests.hostile.corpus_index import PROBES
from tests.hostile.probe import Probe


def cases() -> Iterator[Any]:
    for probe in PROBES:
        marks = [pytest.mark.xfail(strict=True, reason=probe.hole)] if probe.hole else []
        yield pytest.param(probe, "sqlite", id=probe.id, marks=marks)
        if probe.both_databases:
            yield pytest.param(probe, "postgresql", id=f"{probe.id}@pg", marks=marks)


@pytest.mark.parametrize(("probe", "database"), list(cases()))
def test_probe(probe: Probe, database: str, hostile_seed: Path, tmp_path: Path,
               capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> None:
    bench = Bench(copy_seed(hostile_seed, tmp_path / "ws"), capsys)
    if database == "postgresql":
        bench.db_url, bench.schema = PG_URL, request.getfixturevalue("hostile_pg_schema")
    try:
        probe.check(bench)
    finally:
        bench.close()
