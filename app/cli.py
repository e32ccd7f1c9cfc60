"""The `relance` command: its entry point, which answers what it can before loading Typer.

The language is decided first, from the workspace the command names or stands in, else
the environment: every help text is translated in it. `relance --help`, a bare `relance`,
`--version` and a mistyped command are answered by `relance.root_help` in plain text;
everything else is run by the Typer app of `relance.root_command`, imported then (issue
17: Typer and rich cost more than the whole of a top-level help screen may take).
Exit codes: 0 fine, 1 a finding (check errors, failed sends), 2 bad usage or input.
"""

from __future__ import annotations

import sys
from typing import Any

from relance.kernel.i18n import language_for_invocation, set_language
from relance.root_help import answer_without_typer

set_language(language_for_invocation(sys.argv[1:]))


def main(argv: list[str] | None = None, *, here: bool = False) -> None:
    """Entry point of the `relance` script and of `python -m relance`. The command runs
    in the command server when one is running (`relance.server_client`), unless `here`
    (the server's own copy of the process runs it so)."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = answer_without_typer(args)
    if code is None and not here:
        from relance.server_client import run_through_server

        code = run_through_server(args)
    if code is None:
        from relance.root_command import run

        run(args)
    elif code:
        sys.exit(code)


def __getattr__(name: str) -> Any:
    # `relance.cli.app` and `load_all_commands`, for what walks the whole command tree
    # (tests, documentation), live with the Typer app: imported when asked for.
    if name in ("app", "load_all_commands", "LazyCommands"):
        from relance import root_command

        return getattr(root_command, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
