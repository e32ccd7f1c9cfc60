"""A normal (non-editable) install carries every part: code, grammar, migrations, rules
and templates. The editable install used in development would hide a forgotten
package-data pattern, so this builds the real wheel and reads it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = out.glob("relance-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _tracked(folder: str, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT / folder)) for p in (ROOT / folder).rglob(pattern)
                  if "__pycache__" not in p.parts)


@pytest.mark.parametrize(("folder", "package"), [
    ("app", "relance"), ("kernel", "relance/kernel"), ("dsl", "relance/dsl"),
    ("scheduler", "relance/scheduler"), ("demo", "relance/demo"), ("engine", "relance/engine"),
    ("store", "relance/store"), ("channels", "relance/channels"), ("tui", "relance/tui"),
])
def test_every_module_is_in_the_wheel(wheel_names: set[str], folder: str, package: str) -> None:
    missing = [name for name in _tracked(folder, "*.py")
               if f"{package}/{name}" not in wheel_names and "/versions/" not in f"/{name}"]
    assert missing == []


@pytest.mark.parametrize(("folder", "package", "pattern"), [
    ("rules", "relance/rules", "*.rules"),
    ("store/migrations/versions", "relance/store/migrations/versions", "0*.py"),
    ("dsl", "relance/dsl", "*.lark"),
    ("templates", "relance/templates", "*.html"),
])
def test_data_files_are_in_the_wheel(
    wheel_names: set[str], folder: str, package: str, pattern: str
) -> None:
    expected = _tracked(folder, pattern)
    assert expected, f"no {pattern} in {folder}: nothing to ship?"
    assert [name for name in expected if f"{package}/{name}" not in wheel_names] == []
