"""Option values shared by several commands."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from relance.context import AppContext
from relance.kernel.dates import parse_day as parse_typed_day
from relance.kernel.i18n import _

# `--json` after the command's name (`relance queue --json`), as the global one before
# it (`relance --json queue`): either asks for the JSON document.
JsonOption = Annotated[bool, typer.Option(
    "--json", help=_("Print results as JSON for machines (as the global --json)."))]


def json_wanted(ctx: typer.Context, json_output: bool) -> AppContext:
    """The command's context, told when `--json` came after the command's name."""
    context: AppContext = ctx.obj
    if json_output:
        context.json_output = True
    return context


def parse_day(text: str | None, option: str = "--on") -> dt.date:
    """A day given on the command line (`2026-11-30` or `30/11/2026`); today when the
    option is absent."""
    if text is None:
        return dt.date.today()
    return parse_typed_day(text, what=option)
