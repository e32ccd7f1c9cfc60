"""A normal (non-editable) install carries every part: code, grammar, migrations, rules
and templates. The editable install used in development would hide a forgotten
package-data pattern, so this builds the real wheel and reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# One worker builds the wheel for every test here.
pytestmark = pytest.mark.xdist_group("wheel")

ROOT = Path(__file__).resolve().parents[2]


# What the build never reads; `build/` above all, where setuptools stages files: a
# stale copy there could hide a module the wheel lacks.
NOT_BUILT = shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests",
                                   "bench", "docs", "relance-demo")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: xdist workers (and colleagues) building in the one source tree
    # at once would trip over each other's build/ folder.
    source = tmp_path_factory.mktemp("source") / "relance"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("relance-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def wheel_metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("relance-0.1.0.dist-info/METADATA").decode("utf-8")


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


def test_the_wheel_carries_the_license(wheel_names: set[str], wheel_metadata: str) -> None:
    assert "relance-0.1.0.dist-info/licenses/LICENSE" in wheel_names
    assert "License-Expression: AGPL-3.0-or-later" in wheel_metadata.splitlines()
    assert "License-File: LICENSE" in wheel_metadata.splitlines()


def test_the_license_is_the_agpl_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[:2] == ["                    GNU AFFERO GENERAL PUBLIC LICENSE",
                                     "                       Version 3, 19 November 2007"]
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text
    assert text.rstrip().endswith("<https://www.gnu.org/licenses/>.")
