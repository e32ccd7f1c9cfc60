"""The workspace's day: load and check the rules, read the settings, run the day.

`relance run`, the scheduler's daily job and `relance demo` all call `run_workspace_day`.
The sequence was once written in each of them and the copies drifted apart (the
scheduler read `auto_approve = "false"` as true and approved everything); one function
keeps the same workspace doing the same day the same way, whoever starts it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from relance.kernel.errors import RelanceError, UsageError
from relance.kernel.i18n import _

if TYPE_CHECKING:
    from relance.dsl.loader import LoadedRules
    from relance.engine.run import Inspect, RunReport
    from relance.kernel.workspace import Workspace
    from relance.store.db import Store


def load_checked_rules(workspace: Workspace, *, refused: str | None = None
                       ) -> LoadedRules:
    """The workspace's rules, read afresh (an edited rule file counts from the next run,
    without restarting `relance serve`) and checked; `refused` (translated by the
    caller; default: nothing was run) ends the error message when they have errors."""
    from relance.dsl.loader import load_rules

    folder = workspace.rules_dir
    if not folder.is_dir():
        raise UsageError(_("no rules folder at {folder}").format(folder=folder))
    rules = load_rules([folder], root=workspace.root)
    if not rules.ok:
        raise RelanceError(_("the rules have errors, {refused}:").format(
            refused=refused or _("nothing was run")) + "\n" + rules.render())
    return rules


def run_workspace_day(workspace: Workspace, store: Store, on: dt.date, *, actor: str,
                      dry_run: bool = False, inspect: Inspect | None = None) -> RunReport:
    """Evaluate the workspace's rules as of `on` and queue the actions, as its
    `relance.toml` says (`[run] auto_approve`); `dry_run` computes and queues nothing.

    Payment plans whose instalments are overdue are broken first (`engine.run.run_day`,
    in a transaction of their own, unless `dry_run`)."""
    from relance.engine.run import run_day

    # The settings before the rules: a wrong relance.toml is refused (exit 2) before
    # anything is read or written, the same way from every caller.
    settings = workspace.settings
    rules = load_checked_rules(workspace)
    return run_day(store, rules, on, actor=actor, auto_approve=settings.run.auto_approve,
                   dry_run=dry_run, rules_dir=workspace.rules_dir, payer=settings.payer,
                   inspect=inspect)
