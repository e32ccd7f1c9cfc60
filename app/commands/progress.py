"""A progress bar for the commands that take a while (import, run, simulate, dispatch).

Shown on a terminal only, on stderr, and wiped when the work is done, so that what the
command prints stays as it was; when stdout or stderr is not a terminal (a pipe, a
file, cron, a test), nothing at all is drawn. A core function that reports its
progress takes the `Steps` object as its `progress(done, total)` callback; around one
that does not, the bar turns as a spinner with the step's name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a bar is drawn: `relance CMD --help` does without
    from rich.progress import Progress, TaskID


def on_terminal() -> bool:
    """Both outputs go to a person's terminal: the only case a bar is drawn."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class Steps:
    """How far the work is: `steps(done, total)` from the core, `steps.step(name)`
    between stages. Does nothing when no bar is shown."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def step(self, description: str, total: int | None = None) -> None:
        """A new stage: its name, and how many units it counts (None: a spinner)."""
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, description=description, total=total)

    @property
    def shown(self) -> bool:
        return self._bar is not None


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Steps]:
    """A transient bar on stderr for the block, `description` as the stage's name."""
    if not on_terminal():
        yield Steps()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TaskProgressColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        yield Steps(bar, bar.add_task(description, total=total))
