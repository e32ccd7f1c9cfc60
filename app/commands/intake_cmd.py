"""Placeholder while the agency work lands: filled in this session."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
