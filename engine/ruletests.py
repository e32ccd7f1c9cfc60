"""`relance test`: rule tests, kept beside the rules they test.

A test file `NAME.rules.test` (TOML) describes a small book and cases; each case runs the
real engine (`run_day`) on a throw-away SQLite store, on one date or on every day of a
range, and compares the actions queued with the expected ones, one line per action::

    2026-11-22 F-0001 letter amiable_2 tone soft, approved: FA-2026-0001 FA-2026-0114

The format is documented in docs/engine.md.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relance.dsl.loader import LoadedRules, load_rules
from relance.engine.fixtures import write_book, write_history
from relance.engine.plans import check_plans
from relance.engine.rule_coverage import CoverageRecorder
from relance.engine.run import run_day
from relance.engine.simulate import approve_everything, queued_actions
from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import _
from relance.store.db import Store, open_store

TEST_SUFFIX = ".rules.test"


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    passed: bool
    expected: tuple[str, ...]
    got: tuple[str, ...]
    error: str | None = None

    def diff(self) -> str:
        if self.error:
            return self.error
        return "\n".join(difflib.unified_diff(
            list(self.expected), list(self.got), _("expected"), _("got"), lineterm="", n=2))

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "case": self.name, "passed": self.passed,
                "expected": list(self.expected), "got": list(self.got), "error": self.error}


def test_files(paths: Sequence[Path]) -> list[Path]:
    """The rule-test files named by `paths` (folders searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob(f"*{TEST_SUFFIX}") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(_("{path}: no such file or folder").format(path=path))
    return found


def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(_("{path}: cannot read ({reason})").format(path=path,
                                                                   reason=exc)) from exc


def _rules_for(path: Path, spec: dict[str, Any]) -> LoadedRules:
    named = spec.get("rules")
    if named is None:
        targets = [path.with_name(path.name[: -len(".test")])]
    elif isinstance(named, list) and all(isinstance(n, str) for n in named):
        targets = [path.parent / n for n in named]
    else:
        raise UsageError(_("{path}: `rules` must be a list of file names").format(path=path))
    rules = load_rules(targets, root=path.parent)
    if not rules.ok:
        raise RelanceError(_("{path}: the rules under test have errors").format(path=path)
                           + "\n" + rules.render())
    return rules


def _days(path: Path, case: dict[str, Any]) -> list[dt.date]:
    where = _("{path}: case {name!r}").format(path=path, name=case.get("name", "?"))
    if "on" in case:
        on = case["on"]
        if not isinstance(on, dt.date):
            raise UsageError(_("{where}: `on` must be a date (2026-11-22, unquoted)").format(
                where=where))
        return [on]
    start, until = case.get("from"), case.get("until")
    if not isinstance(start, dt.date) or not isinstance(until, dt.date) or until < start:
        raise UsageError(_("{where}: give `on = DATE`, or `from` and `until` dates in order")
                         .format(where=where))
    return [start + dt.timedelta(days=n) for n in range((until - start).days + 1)]


def _merge(base: list[dict[str, Any]], extra: list[dict[str, Any]],
           key: str) -> list[dict[str, Any]]:
    merged = {str(row[key]): dict(row) for row in base}
    for row in extra:
        merged.setdefault(str(row[key]), {}).update(row)
    return list(merged.values())


def merged_book(spec: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The file's book with the case's own rows: a debtor or invoice named again
    overrides the fields it gives; promises and plans are added."""
    return {
        "creditor": {**spec.get("creditor", {}), **case.get("creditor", {})},
        "debtors": _merge(spec.get("debtors", []), case.get("debtors", []), "ref"),
        "invoices": _merge(spec.get("invoices", []), case.get("invoices", []), "number"),
        "promises": list(spec.get("promises", [])) + list(case.get("promises", [])),
        "plans": list(spec.get("plans", [])) + list(case.get("plans", [])),
    }


def run_case(path: Path, spec: dict[str, Any], case: dict[str, Any],
             rules: LoadedRules, coverage: CoverageRecorder | None = None) -> CaseResult:
    """One case; `coverage`, when given, also records what each day exercised of the
    rules (`engine.rule_coverage`)."""
    name = str(case.get("name", _("unnamed case")))
    expected = tuple(sorted(str(line).strip() for line in case.get("expect", ())))
    days = _days(path, case)
    only = {str(n) for n in case.get("only", ())}
    with tempfile.TemporaryDirectory(prefix="relance-test-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'test.sqlite'}")
        try:
            with store.transaction() as session:
                book = merged_book(spec, case)
                ids = write_book(session, book)
                history = list(spec.get("history", ())) + list(case.get("history", ()))
                if history:
                    creditor_id = int(session.connection().exec_driver_sql(
                        "SELECT id FROM creditor ORDER BY id LIMIT 1").scalar_one())
                    write_history(session, creditor_id, ids, history)
            got: list[str] = []
            for day in days:
                if coverage is not None:
                    _observe(store, rules, path, day, only, coverage)
                report = run_day(store, rules, day, actor="relance test",
                                 auto_approve=bool(case.get("auto_approve", True)))
                with store.transaction() as session:
                    for action in queued_actions(session, report.action_ids):
                        if not only or only & set(action.invoices):
                            got.append(action.line())
                    if case.get("approve_all", True):
                        approve_everything(session)
        except (RelanceError, KeyError, ValueError, TypeError) as exc:
            return CaseResult(str(path), name, False, expected, (),
                              f"{exc.__class__.__name__}: {exc}")
        finally:
            store.dispose()
    got_sorted = tuple(sorted(got))
    return CaseResult(str(path), name, got_sorted == expected, expected, got_sorted)


def _observe(store: Store, rules: LoadedRules, path: Path, day: dt.date, only: set[str],
             coverage: CoverageRecorder) -> None:
    """Decide the day on the book the run will read: the run first breaks the plans whose
    instalment is late, so that is done here first (the run's own check then finds
    nothing more to break)."""
    with store.write_transaction() as session:
        check_plans(session, day, actor="relance test")
    with store.transaction() as session:
        coverage.observe(session.connection(), rules, path.parent, day, only)


def run_file(path: Path, coverage: CoverageRecorder | None = None) -> list[CaseResult]:
    """Every case of one test file; `coverage`: see `run_case`."""
    spec = _load(path)
    rules = _rules_for(path, spec)
    cases = spec.get("case", [])
    if not isinstance(cases, list) or not cases:
        raise UsageError(_("{path}: no [[case]] in the file").format(path=path))
    if coverage is not None:
        coverage.watch(rules, path.parent)
    return [run_case(path, spec, case, rules, coverage) for case in cases]
