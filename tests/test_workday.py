"""One reading of relance.toml and one "run the day" for `relance run`, `relance serve` and
the demo: the same settings give the same queue, a wrong one the same refusal."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest

from relance.kernel.errors import ConfigError
from relance.store.db import Store, open_store
from tests.cli import run_cli as relance
from tests.scheduler.book import CONFIG, action_states, add_book, make_workspace, queue_shape

DAY = "2026-03-10"
# After the daily run's 07:00 and before the sending window opens at 08:00: `serve --once`
# runs the day and sends nothing, so its queue compares with `relance run`'s.
NOW = "2026-03-10T07:05:00"
USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"


def booked_workspace(root: Path, extra: str) -> Path:
    """A workspace with the scheduler's small book and `extra` appended to relance.toml."""
    make_workspace(root, CONFIG + extra)
    store = open_store(f"sqlite:///{root / 'relance.sqlite'}")
    add_book(store)
    store.dispose()
    return root


def store_of(root: Path) -> Store:
    return open_store(f"sqlite:///{root / 'relance.sqlite'}")


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
    monkeypatch.setenv("RELANCE_NOW", NOW)
    monkeypatch.setenv("RELANCE_USER", "ops")


COMMANDS = [("run", "--on", DAY), ("serve", "--once")]


def test_a_string_for_auto_approve_stops_run_and_serve_alike(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = booked_workspace(tmp_path / "ws", '[run]\nauto_approve = "false"\n')
    expected = (f"relance: {(root / 'relance.toml').resolve()}: [run] auto_approve must be "
                'true or false, not the string "false"')
    for command in COMMANDS:
        code, out, err = relance(capsys, "-w", str(root), *command)
        assert (code, out, err.strip()) == (2, "", expected), command
    store = store_of(root)
    try:
        assert action_states(store) == {}  # nothing queued, above all nothing approved
    finally:
        store.dispose()


@pytest.mark.parametrize(("extra", "states"), [
    ("[run]\nauto_approve = false\n", {"proposed": 3}),
    ("", {"approved": 3}),  # the default: routine actions are approved
])
def test_run_and_serve_queue_the_same_actions_in_the_same_states(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str,
        states: dict[str, int]) -> None:
    by_hand = booked_workspace(tmp_path / "by-hand", extra)
    served = booked_workspace(tmp_path / "served", extra)
    code, _out, err = relance(capsys, "-w", str(by_hand), "run", "--on", DAY)
    assert code == 0, err
    code, out, err = relance(capsys, "-w", str(served), "serve", "--once")
    assert code == 0, err
    # The day as the command line shows it (en_GB: day first).
    assert f"daily_run {dt.date.fromisoformat(DAY):%d/%m/%Y}: done" in out
    shapes = []
    for root in (by_hand, served):
        store = store_of(root)
        try:
            assert action_states(store) == states
            shapes.append(queue_shape(store))
        finally:
            store.dispose()
    assert shapes[0] == shapes[1] and len(shapes[0]) == 3


def test_a_misspelt_key_is_refused_with_a_suggestion(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = booked_workspace(tmp_path / "ws", "[run]\nauto_aprove = false\n")
    for command in COMMANDS:
        code, out, err = relance(capsys, "-w", str(root), *command)
        assert (code, out) == (2, ""), command
        assert "relance.toml: [run] auto_aprove is not a setting of the run: did you mean " \
               "auto_approve?" in err
        assert "Traceback" not in err


@pytest.mark.parametrize(("config", "message"), [
    ({"run": {"auto_approve": "false"}},
     '[run] auto_approve must be true or false, not the string "false"'),
    ({"run": {"auto_approve": 0}}, "[run] auto_approve must be true or false, not the number 0"),
    ({"run": {"timezone": "Europe/Pariss"}},
     "[run] timezone is not a known time zone: 'Europe/Pariss'"),
    ({"run": {"timezone": 1}}, "[run] timezone must be a text, not the number 1"),
    ({"database": {"url": 5}}, "[database] url must be a text, not the number 5"),
    ({"database": {"url": ""}}, "[database] url must be a text, not the string \"\""),
    ({"workspace": {"rules": ["rules"]}}, "[workspace] rules must be a text, not a list"),
    ({"workspace": {"outbx": "out"}},
     "[workspace] outbx is not a setting of the workspace: did you mean outbox?"),
    ({"run": 3}, "[run] must be a table, not the number 3"),
    ({"shedule": {"run_at": "07:00"}},
     "[shedule] is not a table of relance.toml: did you mean [schedule]?"),
    ({"auto_approve": False}, "auto_approve is not a table of relance.toml: did you mean "
                              "[run] auto_approve?"),
    ({"schedule": {"send_on_holidays": "yes"}},
     '[schedule] send_on_holidays must be true or false, not the string "yes"'),
    ({"schedule": {"run_time": "07:00"}},
     "[schedule] run_time is not a setting of the scheduler: did you mean run_at?"),
    ({"schedule": {"dispatch_every_minutes": "5"}},
     '[schedule] dispatch_every_minutes must be a whole number, not the string "5"'),
])
def test_each_mistake_names_the_file_the_key_and_the_expected_type(
        config: dict[str, Any], message: str) -> None:
    from relance.kernel.settings import parse_settings

    with pytest.raises(ConfigError) as caught:
        parse_settings(config, label="/srv/acme/relance.toml")
    assert caught.value.message.startswith(f"/srv/acme/relance.toml: {message}")


def test_the_settings_are_typed_and_read_once(tmp_path: Path) -> None:
    from relance.kernel.settings import Settings
    from relance.kernel.workspace import find_workspace

    (tmp_path / "relance.toml").write_text(
        '[workspace]\nrules = "policies"\n[database]\nurl = "sqlite:///x.sqlite"\n'
        '[run]\nauto_approve = false\ntimezone = "Europe/Brussels"\n'
        '[schedule]\nrun_at = "06:30"\n[users]\nalice = "operator"\n'
        '[smtp]\nhost = "smtp.example.test"\n', encoding="utf-8")
    workspace = find_workspace(tmp_path)
    settings = workspace.settings
    assert isinstance(settings, Settings)
    assert workspace.settings is settings  # parsed once per workspace
    assert settings.run.auto_approve is False
    assert settings.schedule.timezone == "Europe/Brussels"  # [run] timezone, the fallback
    assert settings.schedule.run_at == dt.time(6, 30)
    assert workspace.rules_dir == tmp_path / "policies"
    assert workspace.database_url() == "sqlite:///x.sqlite"


def test_the_workspace_day_follows_the_settings(store: Store, tmp_path: Path) -> None:
    from relance.engine.workday import run_workspace_day
    from relance.kernel.workspace import find_workspace

    add_book(store)
    workspace = find_workspace(make_workspace(tmp_path / "ws", CONFIG
                                              + "[run]\nauto_approve = false\n"))
    day = dt.date(2026, 3, 10)
    dry = run_workspace_day(workspace, store, day, actor="ops", dry_run=True)
    assert (dry.run_id, dry.actions_created, dry.actions_proposed) == (None, 3, 3)
    report = run_workspace_day(workspace, store, day, actor="ops")
    assert report.run_id is not None
    assert (report.actions_created, report.actions_proposed) == (3, 3)
    assert action_states(store) == {"proposed": 3}


def test_the_documented_configuration_is_the_default() -> None:
    from relance.kernel.settings import parse_settings

    text = USAGE.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    documented = tomllib.loads(block)
    assert set(documented) >= {"workspace", "database", "run", "schedule"}
    assert parse_settings(documented) == parse_settings({})


@pytest.mark.parametrize("config", [
    {"run": {"auto_approve": "false"}},
    {"run": {"auto_aprove": False}},
    {"shedule": {}},
])
def test_the_documented_errors_are_the_real_ones(config: dict[str, Any]) -> None:
    from relance.kernel.settings import parse_settings

    with pytest.raises(ConfigError) as caught:
        parse_settings(config, label="/srv/acme/relance.toml")
    real = f"relance: {caught.value.message}"
    section = USAGE.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    documented = [line.removesuffix("(known: ...)") for line in section.splitlines()
                  if line.startswith("relance: /srv/acme/relance.toml: ")]
    assert any(real.startswith(line) for line in documented), real
