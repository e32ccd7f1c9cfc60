"""CI must run the README's own commands: a step the README forgets fails CI, not a user."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    skipped = ("#", "set ", "cd ")
    return [line.strip() for line in lines if line.strip() and not line.startswith(skipped)]


def test_ci_runs_exactly_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_commands = _commands(ROOT / ".ci" / "run")
    assert len(ci_commands) == 2
    for command in ci_commands:
        assert f"\n{command}\n" in readme, f"README does not show: {command}"
