"""`python -m tests.hostile.report`: the hostile corpus counted per family and in total.

The counts are those of the table the test suite runs (`tests/hostile/test_corpus.py`):
each probe's expected outcome, and the probes marked as known holes (strict xfails).
"""

from __future__ import annotations

from collections import Counter

from tests.hostile.corpus_index import PROBES
from tests.hostile.probe import Expect


def counts_table() -> str:
    columns = ("family", "refused", "neutralised", "failed (xfail)", "also on PG", "total")
    rows: list[tuple[str, ...]] = []
    families = list(dict.fromkeys(probe.family for probe in PROBES))
    totals: Counter[str] = Counter()
    for family in families:
        mine = [probe for probe in PROBES if probe.family == family]
        count = Counter({
            "refused": sum(p.expect is Expect.REFUSED and not p.hole for p in mine),
            "neutralised": sum(p.expect is Expect.NEUTRALISED and not p.hole for p in mine),
            "failed": sum(p.hole is not None for p in mine),
            "pg": sum(p.both_databases for p in mine),
            "total": len(mine)})
        totals.update(count)
        rows.append((family, *(str(count[k]) for k in
                               ("refused", "neutralised", "failed", "pg", "total"))))
    rows.append(("total", *(str(totals[k]) for k in
                            ("refused", "neutralised", "failed", "pg", "total"))))
    widths = [max(len(r[i]) for r in (columns, *rows)) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
             for line in (columns, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    print(counts_table())
