"""Layering: the core (dsl, engine, store) never imports the UI, a channel or the CLI,
and the language depends on nothing but itself. Read from the source, so it holds for
modules no test imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPPER_LAYERS = ("relance.tui", "relance.channels", "relance.cli", "relance.commands",
                "relance.context")
FORBIDDEN = {
    "dsl": (*UPPER_LAYERS, "relance.engine", "relance.store"),
    "engine": UPPER_LAYERS,
    "store": (*UPPER_LAYERS, "relance.engine"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend([(node.lineno, node.module)]
                         + [(node.lineno, f"{node.module}.{a.name}") for a in node.names])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_core_layers_do_not_import_upper_layers(layer: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, module in imported_modules(path)
        if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_check_itself_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("def f():\n    from relance.tui.app import RelanceApp\n")
    assert (2, "relance.tui.app") in imported_modules(sample)
