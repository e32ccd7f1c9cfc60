"""What the command line prints: `simulate`'s summary, CSV and JSON; `--json` after the
command's name; the progress bar (on a terminal only); shell completion; `python -m`."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli import run_cli as run

RELANCE = str(Path(sys.executable).parent / "relance")
SPAN = ("--from", "2026-11-22", "--until", "2026-11-23")


@pytest.fixture
def workspace(tmp_path: Path, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The worked example's book and franchise rules, in English."""
    ws = str(tmp_path / "ws")
    assert run(capsys, "init", ws)[0] == 0
    code, _, err = run(capsys, "-w", ws, "import", "invoices", str(examples_dir / "invoices.csv"))
    assert code == 0, err
    for path in (Path(ws) / "rules").iterdir():
        if not path.name.startswith("franchise.rules"):
            path.unlink()
    return ws


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update(LANG="en_GB.UTF-8", **extra)
    return env


# --------------------------------------------------------------------------- simulate


def test_simulate_summarises_each_day_readably_in_80_columns(
        workspace: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-w", workspace, "simulate", *SPAN)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("From 22/11/2026 to 23/11/2026, if nobody pays and every action is "
                        "approved, the rules would queue 6 actions:")
    assert max(len(line) for line in lines[1:-1]) <= 80
    # A row per day and kind of action: how many, on how many invoices, owing what.
    assert re.match(r"22/11/2026\s+call\s+2\s+3\s+€4,630\.90$", lines[3])
    assert re.search(r"^\s+letter amiable_2\s+3\s+4\s+CHF", out, re.M)
    assert re.search(r"^total\s+6\s+8\s+CHF", out, re.M)
    assert lines[-1] == "Every action, with its debtor and invoices: --format csv or --json."


def test_simulate_as_csv_and_json_lists_every_action_with_what_it_owes(
        workspace: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-w", workspace, "simulate", *SPAN, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 8  # a row per item: 6 actions on 8 invoice steps
    first = rows[0]
    assert list(first) == ["communication_key", "date", "creditor", "debtor", "channel",
                           "template", "tone", "priority", "target_stage", "state",
                           "needs_approval", "invoice", "policy", "rule", "rule_file",
                           "rule_line", "currency", "balance_minor", "balance"]
    assert first["date"] == "2026-11-22" and first["currency"] in ("EUR", "CHF")
    assert "," not in first["balance"] and "." in first["balance"]  # an exact decimal

    code, out, _ = run(capsys, "-w", workspace, "simulate", *SPAN, "--format", "json")
    actions = json.loads(out)
    assert [(a["key"], a["date"], a["debtor"], a["channel"], item["invoice"])
            for a in actions for item in a["items"]] == [
        (r["communication_key"], r["date"], r["debtor"], r["channel"], r["invoice"])
        for r in rows]
    # What an action owes is its distinct invoices' balances, as its rows give them.
    for action in actions:
        balances = {(r["invoice"], r["currency"]): Decimal(r["balance"]) for r in rows
                    if r["communication_key"] == action["key"]}
        owed: dict[str, Decimal] = {}
        for (_invoice, currency), balance in balances.items():
            owed[currency] = owed.get(currency, Decimal(0)) + balance
        assert action["owed"] == [{"currency": currency, "amount": str(amount)}
                                  for currency, amount in sorted(owed.items())]
    # `--json` after the command's name is the same document.
    code, same, _ = run(capsys, "-w", workspace, "simulate", *SPAN, "--json")
    assert json.loads(same) == actions


def test_simulate_refuses_a_format_it_does_not_know(
        workspace: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-w", workspace, "simulate", *SPAN, "--format", "pdf")
    assert code == 2 and out == ""
    assert "Invalid value for '--format'" in err and "'table', 'csv', 'json'" in err


# --------------------------------------------------------------------------- --json


def test_json_is_asked_after_the_command_name_as_well_as_before(
        workspace: str, examples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["queue"], ["payments"], ["plan", "list"], ["uncertain"], ["batches"],
                    ["db", "current"], ["check"]):
        before = run(capsys, "-w", workspace, "--json", *command)
        after = run(capsys, "-w", workspace, *command, "--json")
        assert before[0] == after[0] == 0, (command, after[2])
        assert json.loads(after[1]) == json.loads(before[1]), command
    code, out, _ = run(capsys, "-w", workspace, "import", "invoices",
                       str(examples_dir / "invoices.csv"), "--json")
    assert code == 0 and json.loads(out)["unchanged"] == 10
    code, out, _ = run(capsys, "init", str(Path(workspace).parent / "other"), "--json")
    assert code == 0 and "relance.toml" in " ".join(json.loads(out)["written"])


# --------------------------------------------------------------------------- progress


def on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """What a person would see: the command run with a terminal as its outputs."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower,
                               env=env, close_fds=True)
    os.close(follower)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command ended and closed its side
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=120)
    os.close(leader)
    return seen.decode("utf-8", "replace")


def test_a_progress_bar_on_a_terminal_and_nothing_extra_when_piped(
        workspace: str, examples_dir: Path) -> None:
    command = [RELANCE, "-w", workspace, "import", "invoices",
               str(examples_dir / "invoices.csv")]
    env = environment(COLUMNS="100")
    piped = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 0
    assert piped.stderr == ""
    assert piped.stdout.startswith("invoices.csv: 10 rows — 0 created")
    assert "\x1b" not in piped.stdout
    seen = on_a_terminal(command, env)
    assert "Importing invoices.csv" in seen  # drawn on stderr, then wiped
    assert "10 rows — 0 created" in seen


# --------------------------------------------------------------------------- shell


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_installs_into_the_shells_startup_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Run from bash (not exec'd by it: `; true`), so that the shell is found as the parent.
    result = subprocess.run(["bash", "-c", f"'{RELANCE}' --install-completion; true"],
                            capture_output=True, text=True, timeout=120,
                            env=environment(HOME=str(home), SHELL="/bin/bash"))
    assert "Completion for bash installed in" in result.stdout, result.stderr
    script = home / ".bash_completions" / "relance.sh"
    assert "_RELANCE_COMPLETE" in script.read_text(encoding="utf-8")
    assert f"source '{script}'" in (home / ".bashrc").read_text(encoding="utf-8")


def test_python_dash_m_relance_is_the_same_command_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "relance", "--version"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env=environment())
    assert result.returncode == 0 and result.stdout.startswith("relance ")
    helped = subprocess.run([sys.executable, "-m", "relance", "--help"], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, env=environment())
    assert "Usage: relance [OPTIONS] COMMAND [ARGS]..." in helped.stdout
