"""What a clean install relies on: the lock covers pyproject, setup.sh sees to Pango,
`python -m relance` runs, and nothing Unix-only is needed to start the command line."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
PANGO_INSTALL = "apt-get install -y libpango-1.0-0 libpangoft2-1.0-0"


def _locked() -> dict[str, tuple[str, int]]:
    """Each package locked for this Python: (its exact version, how many hashes it has).
    The lock is universal: a package may have one entry per Python, told apart by a
    marker (`; python_full_version < '3.12'`); the entry for this interpreter counts."""
    entries: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=\S)", LOCK.read_text(encoding="utf-8")):
        requirement, _, marker = block.split("\\", 1)[0].partition(";")
        head = requirement.strip()
        if not head or head.startswith("#"):
            continue
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, sep, version = head.partition("==")
        assert sep, f"not pinned with ==: {head!r}"
        entries[canonicalize_name(name)] = (version.strip(), block.count("--hash=sha256:"))
    return entries


def _declared() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"],
             *pyproject["build-system"]["requires"]]
    return [Requirement(text) for text in named]


def test_the_lock_pins_and_hashes_every_dependency_pyproject_names() -> None:
    locked = _locked()
    assert all(hashes for _version, hashes in locked.values()), "an entry without hash"
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml, not in the lock: regenerate it"
        version, _ = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"the lock has {name}=={version}, pyproject.toml asks {requirement}: regenerate it")


def test_the_lock_holds_what_the_dependencies_need_in_turn() -> None:
    """Walks the installed metadata from pyproject's names (extras included): every
    package reached is locked, so `pip install --require-hashes` finds no stranger.
    It reads the venv setup.sh made from the lock; another venv proves nothing."""
    locked = _locked()
    environment = {key: str(value) for key, value in default_environment().items()}
    seen: set[str] = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in _declared()]
    while todo:
        name, extras = todo.pop()
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        assert name in locked, f"{name} is needed but not in the lock: regenerate it"
        if metadata.version(name) != locked[name][0]:
            pytest.skip(f"this venv has {name} {metadata.version(name)}, the lock "
                        f"{locked[name][0]}: its metadata says nothing of the lock's")
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            wanted = any(requirement.marker is None or requirement.marker.evaluate(
                {**environment, "extra": extra}) for extra in (extras or {""}))
            if wanted:
                todo.append((canonicalize_name(requirement.name),
                             frozenset(requirement.extras)))
    assert "psycopg-binary[]" in seen  # the walk followed psycopg[binary]'s extra


def _stand_ins(folder: Path, *, uid: int, libraries: str) -> dict[str, str]:
    """An environment whose ldconfig lists `libraries`, whose id says `uid`, and whose
    apt-get only records how it was called (in folder/apt-get.log)."""
    folder.mkdir()
    programs = {
        "ldconfig": f"printf '%s' '{libraries}'",
        "id": f"echo {uid}",
        "apt-get": f'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> {folder}/apt-get.log',
    }
    for name, body in programs.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
            "PYTHON": sys.executable}


def _setup_copy(tmp_path: Path) -> Path:
    """setup.sh in a folder of its own: whatever it gets past, it installs nothing here."""
    scripts = tmp_path / "project" / "scripts"
    scripts.mkdir(parents=True)
    script = scripts / "setup.sh"
    script.write_text((ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8"))
    return script


def test_setup_without_pango_and_without_root_stops_with_the_command_to_run(
    tmp_path: Path,
) -> None:
    env = _stand_ins(tmp_path / "bin", uid=1000, libraries="0 libs found in cache\n")
    done = subprocess.run(["bash", str(_setup_copy(tmp_path))], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert f"sudo {PANGO_INSTALL}" in done.stderr
    assert not (tmp_path / "bin" / "apt-get.log").exists()
    assert not (tmp_path / "project" / ".venv").exists()


def test_setup_without_pango_as_root_installs_it_with_apt_get(tmp_path: Path) -> None:
    # The stand-in apt-get installs nothing, so the check after it still fails: that
    # stops setup before any venv, and shows it looks again rather than trusting apt.
    env = _stand_ins(tmp_path / "bin", uid=0, libraries="0 libs found in cache\n")
    done = subprocess.run(["bash", str(_setup_copy(tmp_path))], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    calls = (tmp_path / "bin" / "apt-get.log").read_text().splitlines()
    assert calls == [
        "DEBIAN_FRONTEND=noninteractive update -qq",
        "DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends "
        "libpango-1.0-0 libpangoft2-1.0-0",
    ]
    assert done.returncode == 2 and "still lists no libpango-1.0.so.0" in done.stderr


def test_setup_finds_pango_where_the_loader_lists_it(tmp_path: Path) -> None:
    listed = ("2 libs found in cache\n"
              "\tlibpangoft2-1.0.so.0 (libc6,x86-64) => /lib/libpangoft2-1.0.so.0\n"
              "\tlibpango-1.0.so.0 (libc6,x86-64) => /lib/libpango-1.0.so.0\n")
    env = _stand_ins(tmp_path / "bin", uid=1000, libraries=listed)
    # A Python that passes the version check and fails to make the venv (exit 7): setup
    # reaching it means the Pango check let it through.
    python = tmp_path / "bin" / "python-stand-in"
    python.write_text('#!/bin/sh\n[ "$1" = -c ] && exit 0\nexit 7\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    env["PYTHON"] = str(python)
    done = subprocess.run(["bash", str(_setup_copy(tmp_path))], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 7, done.stderr
    assert not (tmp_path / "bin" / "apt-get.log").exists()


def test_python_dash_m_relance_is_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "relance", "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("relance ")


WITHOUT_FCNTL = ("import sys; sys.modules['fcntl'] = None; "
                 "from relance.cli import main; main(sys.argv[1:])")


def _workspace(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "relance", "init", str(folder)],
                   capture_output=True, text=True, timeout=60, check=True)
    return folder


@pytest.mark.parametrize("args", [["--help"], ["check"]])
def test_the_command_line_starts_where_fcntl_does_not_exist(
    tmp_path: Path, args: list[str]
) -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_FCNTL, *args],
                          cwd=_workspace(tmp_path), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_serve_on_sqlite_where_fcntl_does_not_exist_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_FCNTL, "serve", "--once"],
                          cwd=_workspace(tmp_path), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("relance: relance serve on SQLite needs the Unix file lock")
    assert "PostgreSQL" in done.stderr
