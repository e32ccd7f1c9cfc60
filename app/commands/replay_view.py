"""`relance simulate --replay`: the back-test of the rules against the book's history."""

from __future__ import annotations

import datetime as dt

from relance.commands.simulate_view import SimulateFormat
from relance.context import AppContext
from relance.dsl.loader import LoadedRules
from relance.kernel.errors import UsageError
from relance.kernel.i18n import _


def show_replay(context: AppContext, rules: LoadedRules, first: dt.date, last: dt.date,
                shape: SimulateFormat) -> None:
    raise UsageError(_("the replay is not built yet"))
