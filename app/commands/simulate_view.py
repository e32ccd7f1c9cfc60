"""What `relance simulate` prints: a summary for people, every action for programs.

A simulation over weeks queues thousands of actions; listed one a line they make a
table nobody reads (and, cut to a terminal's width, one nobody can). People get a
table a day per line and kind of action (the channel with its template, or the stage
an escalation moves to): how many actions, how many invoices, what they owe. Programs
get every action, as JSON (each communication with its items) or CSV (a row per item:
an invoice a rule puts in a communication; ISO dates, amounts as exact decimals).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from relance.context import AppContext, add_row, print_table, say
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.i18n import _, ngettext
from relance.kernel.money import decimal_text

if TYPE_CHECKING:
    from relance.engine.simulate import SimulatedAction

# One row per (communication, invoice, rule): see docs/json-output.md.
CSV_COLUMNS = ("communication_key", "date", "creditor", "debtor", "channel", "template",
               "tone", "priority", "target_stage", "state", "needs_approval", "invoice",
               "policy", "rule", "rule_file", "rule_line", "currency", "balance_minor",
               "balance")


class SimulateFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@dataclass
class _Line:
    """One kind of action on one day: how many, on how many invoices, owing what."""

    actions: int = 0
    invoices: int = 0
    owed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, action: SimulatedAction) -> None:
        self.actions += 1
        self.invoices += len(action.invoices)
        for currency, minor in action.owed:
            self.owed[currency] += minor


def kind_of(action: SimulatedAction) -> str:
    """What an action does, as a person reads it in the summary."""
    from relance.engine.words import channel_word

    if action.channel == "escalate":
        return _("escalate to {stage}").format(stage=action.target_stage or "?")
    if action.channel == "call":
        return _("call")
    channel = channel_word(action.channel)
    return f"{channel} {action.template}" if action.template else channel


def _money(owed: dict[str, int]) -> str:
    return "\n".join(show_money(minor, currency) for currency, minor in sorted(owed.items()))


def summary_table(found: Sequence[SimulatedAction]) -> Table:
    """A row per day and kind of action, the day written on its first row; a total."""
    days: dict[dt.date, dict[str, _Line]] = defaultdict(lambda: defaultdict(_Line))
    total = _Line()
    for action in found:
        days[action.on][kind_of(action)].add(action)
        total.add(action)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column(_("day"))
    table.add_column(_("action"))
    for title in (_("actions"), _("invoices"), _("amount owed")):
        table.add_column(title, justify="right")
    for day in sorted(days):
        for index, (kind, line) in enumerate(sorted(days[day].items())):
            add_row(table, show_date(day) if index == 0 else "", kind,
                    show_count(line.actions), show_count(line.invoices), _money(line.owed))
    table.add_section()
    add_row(table, _("total"), "", show_count(total.actions), show_count(total.invoices),
            _money(total.owed), style="bold")
    return table


def _json(action: SimulatedAction) -> dict[str, Any]:
    """The action as `simulate --json` prints it: its summary (invoices, rules, owed)
    and the communication with its items (`engine.run_listing`), which has no id since
    the simulation is rolled back: its key names it."""
    listed = action.communication.to_json(kept=False) if action.communication else {}
    return {**listed, **action.to_json(),
            "owed": [{"currency": currency, "amount": decimal_text(minor, currency)}
                     for currency, minor in action.owed]}


def _csv_rows(found: Sequence[SimulatedAction]) -> list[list[str]]:
    """One row per item: an invoice a rule puts in a communication, with the
    communication's key and fields repeated on each of its rows."""
    rows = []
    for action in found:
        if action.communication is None:
            continue
        listed = action.communication
        base = [listed.key, listed.on.isoformat(), listed.creditor, listed.debtor,
                listed.channel, listed.template or "", listed.tone or "",
                listed.priority or "", listed.target_stage or "", listed.state,
                "true" if listed.needs_approval else "false"]
        for item in listed.items:
            rows.append([*base, item.invoice, item.policy, item.rule, item.rule_file,
                         str(item.rule_line), item.currency, str(item.balance_minor),
                         decimal_text(item.balance_minor, item.currency)])
    return rows


def show_simulation(context: AppContext, found: Sequence[SimulatedAction], first: dt.date,
                    last: dt.date, shape: SimulateFormat) -> None:
    """The simulation's actions in the format asked for, on stdout."""
    if shape is SimulateFormat.JSON:
        context.emit_json([_json(action) for action in found])
        return
    if shape is SimulateFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_rows(found))
        return
    console = context.console
    span = dict(first=show_date(first), last=show_date(last))
    if not found:
        say(console, _("From {first} to {last}, nothing would be queued.").format(**span))
        return
    say(console, ngettext(
        "From {first} to {last}, if nobody pays and every action is approved, the rules "
        "would queue {count} action:",
        "From {first} to {last}, if nobody pays and every action is approved, the rules "
        "would queue {count} actions:", len(found)).format(count=show_count(len(found)),
                                                           **span))
    print_table(console, summary_table(found))
    say(console, _("Every action, with its debtor and invoices: --format csv or --json."))
