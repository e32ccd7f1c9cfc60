"""A module past 500 lines is usually several jobs: split it by job, or say at its top why
it is one. The reason is a sentence starting "Over 500 lines because" in the module's
first 40 lines, where the next engineer reads before adding more. Migration versions
are generated history and are left out."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.test_layers import package_folders

LIMIT = 500
REASON = "Over 500 lines because"
READ_LINES = 40


def unexplained_long_modules(folders: list[Path]) -> list[str]:
    """Files over the limit whose top does not say why, as "path (N lines)"."""
    found = []
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) > LIMIT and not any(REASON in line for line in lines[:READ_LINES]):
                found.append(f"{path} ({len(lines)} lines)")
    return found


def test_every_long_module_says_why_at_its_top() -> None:
    folders = [folder for package, folder in package_folders().items()
               if not package.endswith(".migrations.versions")]
    root = Path(__file__).resolve().parents[2]
    assert [entry.replace(f"{root}/", "") for entry in unexplained_long_modules(folders)] == []


def test_a_long_module_without_its_reason_is_reported(tmp_path: Path) -> None:
    body = "x = 1\n" * LIMIT
    (tmp_path / "short.py").write_text(body)
    (tmp_path / "long.py").write_text(body + "y = 2\n")
    (tmp_path / "explained.py").write_text(f'"""Tables.\n\n{REASON} one schema."""\n' + body)
    (tmp_path / "late.py").write_text(body + f"# {REASON} nobody reads this far.\n")
    assert unexplained_long_modules([tmp_path]) == [
        f"{tmp_path / 'late.py'} ({LIMIT + 1} lines)",
        f"{tmp_path / 'long.py'} ({LIMIT + 1} lines)",
    ]
