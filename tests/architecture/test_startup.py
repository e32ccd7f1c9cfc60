"""`relance --help` answers without loading the heavy layers, and the command index that
makes it possible says exactly what the modules register; a command's `--help`, and a
command over an up-to-date store, load only what they use (issue 17: the times are in
bench/startup_bench.py, these are what make them, whatever the machine's speed)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from alembic import command
from sqlalchemy import text

from relance.command_index import COMMANDS, modules
from relance.store.db import make_engine, open_store
from relance.store.migrate import alembic_config, code_head, current_revision, head_revision

HEAVY = ("sqlalchemy", "textual", "weasyprint", "relance.store.models", "relance.engine",
         "relance.tui", "relance.channels")
# What no command's `--help` needs: the database layer, the desk, the renderers.
NOT_FOR_HELP = ("sqlalchemy", "alembic", "relance.store.models", "textual", "weasyprint",
                "openpyxl", "pydantic")
# Modules whose options, or the words they print, are typed, defaulted or keyed with what
# the store or the core defines (the queue's states and channels, a mandate's scopes,
# the report's groupings, a portal request's kinds): their `--help` imports it, since
# Typer reads those types to build the command and the tables are built on import.
OPTIONS_FROM_THE_CORE = {"queue_cmd", "mandate_cmd", "report_cmd", "diff_cmd", "demo_cmd",
                         "request_cmd"}
# Alembic's machinery: reading and running the migration scripts.
MIGRATING = ("alembic.script", "alembic.runtime", "alembic.command", "alembic.operations")


def _modules_after(*argv: str, cwd: Path | None = None) -> list[str]:
    """The modules a fresh interpreter holds after `relance ARGV`."""
    script = ("import json, sys\nfrom relance.cli import main\ntry:\n    main(sys.argv[1:])\n"
              "except SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True,
                          text=True, check=True, timeout=120, cwd=cwd)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _among(loaded: list[str], packages: tuple[str, ...]) -> list[str]:
    return [name for name in loaded if any(name == p or name.startswith(p + ".")
                                           for p in packages)]


def _heavy(loaded: list[str]) -> list[str]:
    return _among(loaded, HEAVY)


def test_help_loads_no_database_desk_or_renderer() -> None:
    assert _heavy(_modules_after("--help")) == []


def test_a_mistyped_command_loads_nothing_heavy_either() -> None:
    assert _heavy(_modules_after("rnu")) == []


def test_a_command_loads_its_own_module_only_when_it_runs() -> None:
    loaded = _modules_after("check", "--help")
    assert "relance.commands.lang_cmd" in loaded
    assert "relance.commands.tui_cmd" not in loaded


def test_the_index_names_each_registered_command_with_its_module() -> None:
    """A command registered by a module must be in the index under that module (else
    `relance --help` would not list it and `relance NAME` would not find it), and the
    index names nothing that no module registers."""
    registered: dict[str, str] = {}
    for module_name in modules():
        holder = typer.Typer()
        importlib.import_module(f"relance.commands.{module_name}").register(holder)
        names = [c.name or (c.callback.__name__ if c.callback else "")
                 for c in holder.registered_commands]
        names += [g.name or "" for g in holder.registered_groups]
        for name in names:
            registered[name.replace("_", "-")] = module_name
    assert registered == {name: entry.module for name, entry in COMMANDS.items()}


def test_help_lists_every_command_of_the_index(capsys: object) -> None:
    done = subprocess.run([sys.executable, "-m", "relance", "--help"], capture_output=True,
                          text=True, check=True, timeout=120,
                          env={"LANG": "en_US.UTF-8", "COLUMNS": "200", "PATH": "/usr/bin"})
    listed = {line.split()[1] for line in done.stdout.splitlines()
              if line.startswith("│ ") and len(line.split()) > 2}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize("module_name", sorted(set(modules()) - OPTIONS_FROM_THE_CORE))
def test_a_command_help_loads_no_database_desk_or_renderer(module_name: str) -> None:
    first = next(name for name, entry in COMMANDS.items() if entry.module == module_name)
    loaded = _modules_after(first, "--help")
    assert f"relance.commands.{module_name}" in loaded
    assert _among(loaded, NOT_FOR_HELP) == []


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    subprocess.run([sys.executable, "-m", "relance", "init", str(folder)], check=True,
                   capture_output=True, timeout=120)
    subprocess.run([sys.executable, "-m", "relance", "db", "upgrade"], cwd=folder,
                   check=True, capture_output=True, timeout=120)
    return folder


def test_a_command_over_an_up_to_date_store_runs_no_migration_machinery(
        workspace: Path) -> None:
    """`relance queue` opens the store: at the newest revision, one query says so, and
    options left out build no Pydantic adapter."""
    loaded = _modules_after("queue", cwd=workspace)
    assert "relance.store.db" in loaded
    assert _among(loaded, MIGRATING) == []
    assert _among(loaded, ("pydantic",)) == []
    assert _among(loaded, ("alembic", "relance.store.migrate", "sqlalchemy")) != []


def test_db_current_on_an_up_to_date_store_reads_no_migration_script(workspace: Path) -> None:
    """Nor the ORM and the models: it reads one table through an engine."""
    loaded = _modules_after("db", "current", cwd=workspace)
    assert _among(loaded, MIGRATING) == []
    assert _among(loaded, ("sqlalchemy.orm", "relance.store.models")) == []


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert code_head() == head_revision(make_engine("sqlite://"))


def _opened_in_a_fresh_process(db_url: tuple[str, str | None]) -> list[str]:
    script = ("import json, sys\nfrom relance.store.db import open_store\n"
              "open_store(sys.argv[1], schema=sys.argv[2] or None).dispose()\n"
              "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, db_url[0], db_url[1] or ""],
                          capture_output=True, text=True, check=True, timeout=120)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_opening_an_up_to_date_store_imports_no_migration_machinery(
        db_url: tuple[str, str | None]) -> None:
    open_store(db_url[0], schema=db_url[1]).dispose()
    assert _among(_opened_in_a_fresh_process(db_url), MIGRATING) == []


def test_a_store_one_revision_behind_is_still_migrated_on_opening(
        db_url: tuple[str, str | None]) -> None:
    engine = make_engine(db_url[0], schema=db_url[1])
    try:
        head = head_revision(engine)
        command.upgrade(alembic_config(engine), "head")
        previous = f"{int(head) - 1:04d}"  # the revisions are numbered 0001, 0002, ...
        command.downgrade(alembic_config(engine), previous)
        assert current_revision(engine) == previous
        loaded = _opened_in_a_fresh_process(db_url)
        assert "alembic.command" in loaded
        assert current_revision(engine) == head
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()
