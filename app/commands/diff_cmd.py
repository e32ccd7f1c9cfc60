"""`relance diff OLD NEW`: what a rule change says and what it would do."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled by the diff work."""
