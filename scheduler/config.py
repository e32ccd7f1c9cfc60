"""The scheduler's settings as the scheduler takes them from a workspace.

The `[schedule]` table itself (`ScheduleConfig`, `parse_schedule`) is read by the
kernel, `relance.kernel.schedule`, with the rest of `relance.toml`; the holiday
country left unset there is filled in from the book by `service.resolve_country`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relance.kernel.schedule import ScheduleConfig
    from relance.kernel.workspace import Workspace


def load_schedule(workspace: Workspace) -> ScheduleConfig:
    """The workspace's `[schedule]`, with the time zone of `[run]` as a fallback: read
    with the rest of relance.toml, so that a mistake anywhere in it stops the scheduler
    at start."""
    return workspace.settings.schedule
