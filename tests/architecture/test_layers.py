"""The layering as a contract, read from the source so that it holds for modules no test
imports, and for imports inside functions or under `TYPE_CHECKING` too.

Low to high: kernel < dsl < store < engine < channels < {scheduler, demo, tui, web} < cli.
A module imports its own layer or lower ones; scheduler, demo, tui and web are siblings and
import none of each other. `rules` and `templates` are data: they import nothing.
Every folder of the installed `relance` package is given a layer here, and a folder
holding Python that is not (a new folder) fails the test until someone places it.
docs/architecture.md explains the layers; this file is what holds them.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Import name (a package or a module) -> its layer; the longest matching name wins.
LAYER_OF_NAME: Mapping[str, str] = {
    "relance.kernel": "kernel",
    "relance.dsl": "dsl",
    "relance.store": "store",  # with store.importing and store.migrations
    "relance.engine": "engine",
    "relance.channels": "channels",
    "relance.scheduler": "scheduler",
    "relance.demo": "demo",
    "relance.tui": "tui",
    "relance.web": "web",
    # app/ is the root package `relance`: the command line and nothing else.
    "relance": "cli",
    "relance.cli": "cli",
    "relance.context": "cli",
    "relance.command_index": "cli",
    "relance.root_help": "cli",
    "relance.root_command": "cli",
    "relance.commands": "cli",
    "relance.__main__": "cli",
    # The command server, which runs the command line in forks of itself.
    "relance.command_server": "cli",
    "relance.server_client": "cli",
    "relance.server_wire": "cli",
    "relance.rules": "data",
    "relance.templates": "data",
}

# Low to high; the layers of one step are siblings.
ORDER: tuple[tuple[str, ...], ...] = (
    ("kernel",), ("dsl",), ("store",), ("engine",), ("channels",),
    ("scheduler", "demo", "tui", "web"), ("cli",),
)

# (importer, imported) pairs of siblings allowed anyway, each with its reason. None
# today: the demo runs the day through the engine like the scheduler does, not through
# the scheduler's code.
SIBLING_EXCEPTIONS: Mapping[tuple[str, str], str] = {}

# Repository folders that hold Python but are not part of the installed package.
NOT_INSTALLED = frozenset({"tests", "bench", "scripts", "docs", "build"})


def allowed_imports() -> dict[str, frozenset[str]]:
    """Each layer -> the layers it may import: its own, every lower one, the data."""
    allowed: dict[str, frozenset[str]] = {"data": frozenset({"data"})}
    below: set[str] = {"data"}
    for step in ORDER:
        for layer in step:
            siblings = {other for other in step if (layer, other) in SIBLING_EXCEPTIONS}
            allowed[layer] = frozenset(below | {layer} | siblings)
        below |= set(step)
    return allowed


MAY_IMPORT = allowed_imports()


def layer_of(name: str) -> str | None:
    """The layer of a dotted import name, or None when no layer claims it. The root
    `relance` claims only itself: `relance.web` is nobody's until it is placed."""
    claims = [known for known in LAYER_OF_NAME
              if name == known or (known != "relance" and name.startswith(known + "."))]
    return LAYER_OF_NAME[max(claims, key=len)] if claims else None


def package_folders(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Path]:
    """Installed package name -> its folder, as setuptools maps them: the package-dir
    entry of the package or of its closest parent, then one folder per dotted part."""
    setuptools = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]
    roots: dict[str, str] = setuptools["package-dir"]
    listed = setuptools.get("packages")
    assert isinstance(listed, list), "pyproject.toml no longer lists its packages: " \
        "teach package_folders how they are found now"
    folders = {}
    for package in listed:
        parent = max((name for name in roots
                      if package == name or package.startswith(name + ".")), key=len)
        rest = package.removeprefix(parent).strip(".")
        folders[package] = (pyproject.parent / roots[parent]).joinpath(*rest.split(".") if rest
                                                                       else ())
    return folders


def modules(packages: Mapping[str, Path]) -> Iterator[tuple[str, Path]]:
    """(dotted module name, file) for every .py file of the installed packages."""
    for package, folder in packages.items():
        for path in sorted(folder.glob("*.py")):
            yield (package if path.stem == "__init__" else f"{package}.{path.stem}"), path


def imported_names(path: Path, module: str) -> list[tuple[int, str]]:
    """Every relance name `path` imports, wherever the import stands (a function body,
    an `if TYPE_CHECKING:`), relative imports resolved, and `import_module` calls whose
    module is written in the source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            # `from relance import cli` imports relance.cli: name what is imported.
            found.extend((node.lineno, base if alias.name == "*" else f"{base}.{alias.name}")
                         for alias in node.names)
        elif isinstance(node, ast.Call) and _called_name(node.func) == "import_module":
            written = _leading_text(node.args[0]) if node.args else ""
            if written:
                found.append((node.lineno, written.rstrip(".")))
    return [(line, name) for line, name in found
            if name == "relance" or name.startswith("relance.")]


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _leading_text(argument: ast.expr) -> str:
    """The part of a module name written literally: all of "a.b", "a." of f"a.{x}"."""
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    if isinstance(argument, ast.JoinedStr) and argument.values:
        return _leading_text(argument.values[0])
    return ""


def offences(path: Path, module: str) -> list[str]:
    """What `path` (the module `module`) imports against the layering."""
    layer = layer_of(module)
    if layer is None:
        return [f"{module} belongs to no layer"]
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = []
    for line, name in imported_names(path, module):
        target = layer_of(name)
        if target is None:
            found.append(f"{where}:{line} imports {name}, of no layer")
        elif target not in MAY_IMPORT[layer]:
            found.append(f"{where}:{line} imports {name}: {layer} may not import {target}")
    return found


def unplaced_folders(root: Path, packages: Mapping[str, Path]) -> list[str]:
    """Folders holding Python that are neither an installed package with a layer nor
    one of the repository's tools."""
    placed = {folder.resolve() for package, folder in packages.items()
              if layer_of(package) is not None}
    tops = [entry for entry in root.iterdir()
            if entry.is_dir() and entry.name not in NOT_INSTALLED
            and not entry.name.startswith(".") and not entry.name.endswith(".egg-info")]
    holding_python = {path.parent.resolve() for top in tops for path in top.rglob("*.py")}
    holding_python |= {root.resolve() for _ in root.glob("*.py")}
    return sorted(str(folder.relative_to(root.resolve())) for folder in holding_python - placed)


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_a_layer_imports_only_itself_and_lower_layers(layer: str) -> None:
    found = [offence for module, path in modules(package_folders())
             if layer_of(module) == layer for offence in offences(path, module)]
    assert found == []


def test_every_folder_holding_python_has_a_layer() -> None:
    assert unplaced_folders(ROOT, package_folders()) == []


def test_every_installed_package_has_a_layer() -> None:
    assert [package for package in package_folders() if layer_of(package) is None] == []


def test_the_kernel_and_the_language_import_only_what_is_below_them() -> None:
    # Said outright, as the two rules people most often break by accident.
    assert MAY_IMPORT["kernel"] == {"kernel", "data"}
    assert MAY_IMPORT["dsl"] == {"kernel", "dsl", "data"}
    assert "scheduler" not in MAY_IMPORT["demo"] and "tui" not in MAY_IMPORT["scheduler"]


# --------------------------------------------------------------------------- the checker


def test_the_check_sees_a_forbidden_import_wherever_it_stands(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from relance.scheduler.config import ScheduleConfig\n"
        "def show():\n"
        "    from relance.tui.app import RelanceApp\n"
        "    from . import casework\n"
        "    importlib.import_module(f'relance.commands.{name}')\n"
    )
    names = imported_names(sample, "relance.engine.bad")
    assert names == [(3, "relance.scheduler.config.ScheduleConfig"),
                     (5, "relance.tui.app.RelanceApp"),
                     (6, "relance.engine.casework"),
                     (7, "relance.commands")]
    assert offences(sample, "relance.engine.bad") == [
        f"{sample}:3 imports relance.scheduler.config.ScheduleConfig: "
        "engine may not import scheduler",
        f"{sample}:5 imports relance.tui.app.RelanceApp: engine may not import tui",
        f"{sample}:7 imports relance.commands: engine may not import cli",
    ]
    # In the demo, `from . import casework` is the demo's own; the siblings and the
    # command line are still refused.
    assert offences(sample, "relance.demo.bad") == [
        f"{sample}:3 imports relance.scheduler.config.ScheduleConfig: "
        "demo may not import scheduler",
        f"{sample}:5 imports relance.tui.app.RelanceApp: demo may not import tui",
        f"{sample}:7 imports relance.commands: demo may not import cli",
    ]


def test_a_folder_of_python_with_no_layer_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "money.py").write_text("")
    (tmp_path / "portal").mkdir()
    (tmp_path / "portal" / "server.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_portal.py").write_text("")
    packages = {"relance.kernel": tmp_path / "kernel"}
    assert unplaced_folders(tmp_path, packages) == ["portal"]
    # Declared in pyproject but given no layer here: still unplaced.
    declared = {**packages, "relance.portal": tmp_path / "portal"}
    assert unplaced_folders(tmp_path, declared) == ["portal"]
    assert layer_of("relance.portal") is None and layer_of("relance.portal.server") is None
