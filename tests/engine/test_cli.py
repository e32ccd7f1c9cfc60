"""`relance run / explain / simulate / audit / test` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import run_cli as run


@pytest.fixture
def workspace(tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    ws = str(tmp_path)
    assert run(capsys, "init", ws)[0] == 0
    code, _, err = run(capsys, "-w", ws, "import", "invoices", str(examples_dir / "invoices.csv"))
    assert code == 0, err
    # The worked example: only the franchise rules (the starter may ship more files).
    for path in (tmp_path / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    return ws


def test_run_dry_run_then_run_then_nothing_more(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "-w", workspace, "run", "--on", "2026-11-22", "--dry-run")
    assert code == 0 and "would queue 6 actions for 8 invoice steps" in out
    code, out, _ = run(capsys, "-w", workspace, "--json", "run", "--on", "2026-11-22")
    report = json.loads(out)
    assert (report["actions_created"], report["items_created"]) == (6, 8)
    assert report["by_channel"] == {"call": 2, "email": 1, "letter": 3}
    code, out, _ = run(capsys, "-w", workspace, "run", "--on", "2026-11-22", "--json")
    assert json.loads(out)["actions_created"] == 0


def test_explain_lists_every_rule_with_the_values_read(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "-w", workspace, "explain", "FA-2026-0001", "--on", "2026-11-22")
    assert code == 0
    assert "[ACTS] letter amiable_2 (rules/franchise.rules:12)" in out
    assert "yes overdue >= 45d   (83d)" in out
    assert "no  after 'letter amiable_2' by 15d   (not acted before 22/11/2026)" in out
    assert "[held] relance_1" in out and "a later rule also holds" in out
    code, out, _ = run(capsys, "-w", workspace, "--json", "explain", "FA-2026-0005",
                       "--on", "2026-11-22")
    document = json.loads(out)
    calls = next(p for p in document["policies"] if p["policy"] == "calls")
    assert calls["in_scope"] is False and calls["acting"] is None
    code, _, err = run(capsys, "-w", workspace, "explain", "NOPE")
    assert code == 2 and "no invoice 'NOPE'" in err


def test_a_day_is_typed_iso_or_day_first_never_month_first(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    iso = run(capsys, "-w", workspace, "explain", "FA-2026-0001", "--on", "2026-11-22")
    day_first = run(capsys, "-w", workspace, "explain", "FA-2026-0001", "--on", "22/11/2026")
    assert iso[0] == day_first[0] == 0 and iso[1] == day_first[1]
    refused = [("11/22/2026", "is not a day of the calendar"),
               ("31/02/2026", "is not a day of the calendar"),
               ("next monday", "is not a date (write YYYY-MM-DD or DD/MM/YYYY)")]
    for typed, why in refused:
        code, out, err = run(capsys, "-w", workspace, "run", "--on", typed)
        assert (code, out) == (2, ""), typed
        assert f"relance: --on: '{typed}' {why}" in err and "Traceback" not in err
    code, out, err = run(capsys, "-w", workspace, "simulate", "--from", "22/11/2026",
                         "--until", "2026-02-30")
    assert code == 2 and "--until: '2026-02-30' is not a day of the calendar" in err
    # Nothing was queued by the refused runs: the first real run queues everything.
    code, out, _ = run(capsys, "-w", workspace, "--json", "run", "--on", "22/11/2026")
    assert code == 0 and json.loads(out)["actions_created"] == 6


@pytest.mark.slow
def test_simulate_shows_the_days_ahead_and_writes_nothing(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "-w", workspace, "--json", "simulate", "--from", "2026-11-22",
                       "--until", "2026-12-22")
    assert code == 0
    days = [(a["date"], a["channel"], a["template"], a["state"]) for a in json.loads(out)
            if "FA-2026-0001" in a["invoices"]]
    assert days == [
        ("2026-11-22", "letter", "amiable_2", "approved"),
        ("2026-11-22", "call", None, "approved"),
        ("2026-12-07", "letter", "mise_en_demeure", "proposed"),
        ("2026-12-22", "escalate", None, "proposed"),
    ]
    code, out, _ = run(capsys, "-w", workspace, "--json", "run", "--on", "2026-11-22")
    assert json.loads(out)["actions_created"] == 6  # the simulation left nothing behind


def test_audit_shows_the_rule_text(workspace: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "-w", workspace, "run", "--on", "2026-11-22")
    stories = {}
    for action_id in range(1, 7):
        code, out, _ = run(capsys, "-w", workspace, "--json", "audit", str(action_id))
        story = json.loads(out)
        stories[(story["debtor"].split()[0], story["action"]["channel"])] = action_id
    letter = stories[("F-0001", "letter")]
    code, out, _ = run(capsys, "-w", workspace, "audit", str(letter))
    assert code == 0
    assert "then send letter 'amiable_2' with tone soft" in out
    assert "overdue: 83d" in out
    code, _, err = run(capsys, "-w", workspace, "audit", "99")
    assert code == 2 and "no action 99" in err


@pytest.mark.slow
def test_rule_tests_pass_and_a_wrong_expectation_fails_with_a_diff(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "-w", workspace, "test")
    assert code == 0, out
    assert "3 passed, 0 failed" in out
    rules = Path(workspace) / "rules"
    broken = (rules / "franchise.rules.test").read_text(encoding="utf-8").replace(
        "F-0004 email relance_1", "F-0004 sms relance_1")
    (rules / "franchise.rules.test").write_text(broken, encoding="utf-8")
    code, out, _ = run(capsys, "-w", workspace, "test")
    assert code == 1
    assert "FAIL" in out
    assert "-2026-11-22 F-0004 sms relance_1 tone soft, approved: FA-2026-0004" in out
    assert "+2026-11-22 F-0004 email relance_1 tone soft, approved: FA-2026-0004" in out


def test_rules_with_errors_are_refused(workspace: str, capsys: pytest.CaptureFixture[str]) -> None:
    rules = Path(workspace) / "rules" / "franchise.rules"
    rules.write_text(rules.read_text(encoding="utf-8").replace("overdue >= 15d", "overdeu >= 15d"),
                     encoding="utf-8")
    code, out, err = run(capsys, "-w", workspace, "run", "--on", "2026-11-22")
    assert code == 1 and out == ""
    assert "the rules have errors" in err and "overdeu" in err


def test_the_shipped_rules_carry_their_tests() -> None:
    root = Path(__file__).resolve().parents[2] / "rules"
    assert (root / "franchise.rules.test").is_file()
