"""The examples of docs/engine.md run as written."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from relance.engine.explain import explain_invoice
from relance.engine.ruletests import run_file
from relance.engine.run import run_day
from relance.store.db import Store
from tests.engine.helpers import load_example, rules_from

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"


def test_the_rule_test_example_passes(tmp_path: Path, examples_dir: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    shutil.copy(examples_dir / "franchise.rules", tmp_path / "franchise.rules")
    test_file = tmp_path / "franchise.rules.test"
    test_file.write_text(block.group(1), encoding="utf-8")
    results = run_file(test_file)
    assert [(r.name, r.passed) for r in results] == [("first run", True)], results[0].diff()


def test_the_explain_example_is_what_explain_prints(
    sqlite_store: Store, examples_dir: Path
) -> None:
    doc = DOC.read_text(encoding="utf-8")
    start = doc.index("```\nFA-2026-0001 (F-0001) on 07/12/2026")
    shown = doc[start + 4 : doc.index("```", start + 4)].splitlines()
    load_example(sqlite_store, examples_dir)
    rules = rules_from((examples_dir / "franchise.rules").read_text(encoding="utf-8"),
                       "rules/franchise.rules")
    run_day(sqlite_store, rules, dt.date(2026, 11, 22), actor="doc")
    with sqlite_store.transaction() as session:
        printed = explain_invoice(session.connection(), rules.policies, 1,
                                  dt.date(2026, 12, 7)).render().splitlines()
    for line in shown:
        if line.strip() != "...":
            assert line in printed
