"""The files of a new workspace, taken from the package so an installed relance has them."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from relance.kernel.workspace import CONFIG_NAME

STARTER_CONFIG = """\
# relance workspace configuration. Secrets (SMTP password, SMS token) never go here:
# they come from the environment (see "Configuration" in docs/usage.md).

[workspace]
rules = "rules"
templates = "templates"
outbox = "outbox"

[database]
# Default: relance.sqlite in this folder. For a team, a PostgreSQL URL:
# url = "postgresql+psycopg://relance@db.example/relance"

[run]
# Routine actions are approved automatically; set to false to review every action.
auto_approve = true
timezone = "Europe/Paris"

# The language relance speaks to you (letters follow each debtor's own language):
# [ui]
# language = "fr"   # or "en"; default: LANG, else French

[users]
# name = "role" with role one of credit_manager, operator, auditor (the desk), or
# sales_rep, client (the web portal only). While it lists nobody of the desk, everyone
# is a credit manager there.
# alice = "credit_manager"
# bruno = "operator"

# Escalations above this amount need two different credit managers (four eyes):
# [approval]
# four_eyes_above = "5000 EUR"

# Where `notify ROLE 'TEMPLATE'` alerts go: a role, or people by their name on the debtor.
# `operator` also receives the alert when a payment plan is broken (docs/cases.md):
# [notify]
# manager = "credit.manager@example.com"
# operator = "recouvrement@example.com"
# [notify.people]
# alice = "alice@example.com"
"""


def _copy_tree(source: Traversable, target: Path, suffixes: tuple[str, ...],
               overwrite: bool, written: list[Path]) -> None:
    for entry in source.iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        destination = target / entry.name
        if entry.is_dir():
            _copy_tree(entry, destination, suffixes, overwrite, written)
        elif entry.name.endswith(suffixes) and (overwrite or not destination.exists()):
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(entry.read_bytes())
            written.append(destination)


def create_workspace(directory: Path, *, overwrite: bool = False) -> list[Path]:
    """Write relance.toml, the starter rules and the default templates; keep what exists
    unless `overwrite`. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    config = directory / CONFIG_NAME
    if overwrite or not config.exists():
        config.write_text(STARTER_CONFIG, encoding="utf-8")
        written.append(config)
    (directory / "rules").mkdir(exist_ok=True)
    (directory / "templates").mkdir(exist_ok=True)
    _copy_tree(resources.files("relance.rules"), directory / "rules", (".rules", ".rules.test"),
               overwrite, written)
    _copy_tree(resources.files("relance.templates"), directory / "templates",
               (".html", ".txt", ".css", ".toml", ".svg", ".png"), overwrite, written)
    return written
