"""`relance --help` answers without loading the heavy layers, and the command index that
makes it possible says exactly what the modules register."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import typer

from relance.command_index import COMMANDS, modules

HEAVY = ("sqlalchemy", "textual", "weasyprint", "relance.store.models", "relance.engine",
         "relance.tui", "relance.channels")


def _modules_after(*argv: str) -> list[str]:
    """The modules a fresh interpreter holds after `relance ARGV`."""
    script = ("import json, sys\nfrom relance.cli import main\ntry:\n    main(sys.argv[1:])\n"
              "except SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True,
                          text=True, check=True, timeout=120)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _heavy(loaded: list[str]) -> list[str]:
    return [name for name in loaded if any(name == h or name.startswith(h + ".")
                                           for h in HEAVY)]


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
