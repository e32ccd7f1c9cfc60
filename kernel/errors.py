"""The one base type for failures a user should read as a sentence, never a traceback."""

from __future__ import annotations


class RelanceError(Exception):
    """An operational failure, rendered once to stderr by the command line.

    `exit_code` follows the command-line contract: 1 for a finding (check errors, a
    failed send), 2 for bad usage or input (a refused file, an unknown invoice).
    """

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(RelanceError):
    """Bad usage or bad input: exit code 2."""

    exit_code = 2


class NotFound(UsageError):
    """A named thing (invoice, action, debtor) does not exist."""


class ConfigError(UsageError):
    """`relance.toml` or the environment says something that cannot work."""
