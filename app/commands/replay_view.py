"""`relance simulate --replay`: the back-test of the rules against the book's history.

People get what differs (a row per rule on an invoice, the first ones), a row per policy
(steps on the same day, on another day, only for real, only in the replay; the share
paid before escalation), a row per level (invoices reached, paid after it, the mean days
to pay), and what the replay could not put back as it was. Programs get every step
compared, as CSV, or the whole report as JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from decimal import Decimal
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from relance.commands.progress import progress
from relance.commands.simulate_view import SimulateFormat
from relance.context import AppContext, add_row, print_table, say
from relance.engine.replay import NOT_REPLAYED, OTHER_DAY, REPLAY_ONLY, SAME_DAY
from relance.kernel.display import show_count, show_date, show_decimal, show_percent
from relance.kernel.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from relance.dsl.loader import LoadedRules
    from relance.engine.replay import Comparison, PolicyReplay, ReplayReport
    from relance.engine.replay_book import Limits

CSV_COLUMNS = ("outcome", "policy", "rule", "invoice", "debtor", "actual", "replayed")
# The differences a person reads on the terminal; --json and csv list them all.
SHOWN_DIFFERENCES = 30
OUTCOME_WORDS = {
    SAME_DAY: N_("same day"),
    OTHER_DAY: N_("another day"),
    NOT_REPLAYED: N_("only for real"),
    REPLAY_ONLY: N_("only in the replay"),
}


def show_replay(context: AppContext, rules: LoadedRules, first: dt.date, last: dt.date,
                shape: SimulateFormat) -> None:
    """Replay the rules from `first` to `last` and print the comparison as asked."""
    from relance.engine.replay import replay

    days = max((last - first).days + 1, 0)
    with progress(_("Replaying"), total=days) as steps:
        report = replay(context.store, rules, first, last, actor=context.user,
                        auto_approve=context.workspace.settings.run.auto_approve,
                        payer=context.workspace.settings.payer,
                        rules_dir=context.workspace.rules_dir, progress=steps)
    if shape is SimulateFormat.JSON:
        context.emit_json(report.to_json())
        return
    if shape is SimulateFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(
            [c.outcome, c.policy, c.rule, c.invoice, c.debtor,
             c.actual_on.isoformat() if c.actual_on else "",
             c.replayed_on.isoformat() if c.replayed_on else ""]
            for c in report.comparisons)
        return
    _show_table(context, report)


def _show_table(context: AppContext, report: ReplayReport) -> None:
    console = context.console
    say(console, _("Replay from {first} to {last} on the book as it was: {replayed} replayed, "
                   "{actual} queued for real.").format(
        first=show_date(report.first), last=show_date(report.last),
        replayed=ngettext("{count} action", "{count} actions", len(report.replayed)).format(
            count=show_count(len(report.replayed))),
        actual=ngettext("{count} action", "{count} actions", len(report.actual)).format(
            count=show_count(len(report.actual)))))
    if not report.comparisons:
        say(console, _("Neither the rules nor the history acted in this period."))
    elif report.reproduced:
        say(console, _("The replay reproduces every step queued for real, each on its day."))
    else:
        differences = report.differences
        say(console, ngettext(
            "{count} step (a rule on an invoice) differs from what was queued for real:",
            "{count} steps (a rule on an invoice) differ from what was queued for real:",
            len(differences)).format(count=show_count(len(differences))))
        print_table(console, _differences_table(differences[:SHOWN_DIFFERENCES]))
        if len(differences) > SHOWN_DIFFERENCES:
            say(console, _("…and {count} more: --format csv or --json lists them all.").format(
                count=show_count(len(differences) - SHOWN_DIFFERENCES)))
    if report.policies:
        print_table(console, _policies_table(report.policies))
        print_table(console, _levels_table(report.policies))
    say(console, _("Payments are the real ones, on their dates: the replay shows when the "
                   "rules would have acted, not whether debtors would have paid otherwise."))
    for sentence in limit_sentences(report.limits):
        say(console, sentence)


def _differences_table(differences: tuple[Comparison, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for title in (_("policy"), _("rule"), _("invoice"), _("debtor"), _("for real"),
                  _("replayed")):
        table.add_column(title)
    for c in differences:
        add_row(table, c.policy, c.rule, c.invoice, c.debtor,
                show_date(c.actual_on) if c.actual_on else "—",
                show_date(c.replayed_on) if c.replayed_on else "—")
    return table


def _pair(real: str, replayed: str) -> str:
    return f"{real} / {replayed}"


def _share(paid: int, share: Decimal | None) -> str:
    return f"{show_count(paid)} ({show_percent(share)})" if share is not None else "—"


def _policies_table(policies: tuple[PolicyReplay, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  caption=_("for real / replayed"))
    table.add_column(_("policy"))
    for outcome in (SAME_DAY, OTHER_DAY, NOT_REPLAYED, REPLAY_ONLY):
        table.add_column(_(OUTCOME_WORDS[outcome]), justify="right")
    table.add_column(_("sent"), justify="right")
    table.add_column(_("paid before escalation"), justify="right")
    for policy in policies:
        add_row(table, policy.policy,
                *(show_count(policy.counts.get(outcome, 0))
                  for outcome in (SAME_DAY, OTHER_DAY, NOT_REPLAYED, REPLAY_ONLY)),
                show_count(policy.sent),
                _pair(_share(policy.actual.paid_before_escalation,
                             policy.actual.share_paid_before_escalation),
                      _share(policy.replayed.paid_before_escalation,
                             policy.replayed.share_paid_before_escalation)))
    return table


def _days(value: Decimal | None) -> str:
    return show_decimal(value) if value is not None else "—"


def _levels_table(policies: tuple[PolicyReplay, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  caption=_("for real / replayed"))
    table.add_column(_("policy"))
    table.add_column(_("level"))
    for title in (_("invoices reached"), _("paid after it"), _("mean days to pay")):
        table.add_column(title, justify="right")
    for policy in policies:
        real = {level.rule: level for level in policy.actual.levels}
        again = {level.rule: level for level in policy.replayed.levels}
        rules = [level.rule for level in policy.actual.levels]
        rules += [rule for rule in again if rule not in real]
        for index, rule in enumerate(rules):
            one, other = real.get(rule), again.get(rule)
            add_row(table, policy.policy if index == 0 else "", rule,
                    _pair(show_count(one.reached if one else 0),
                          show_count(other.reached if other else 0)),
                    _pair(show_count(one.paid if one else 0),
                          show_count(other.paid if other else 0)),
                    _pair(_days(one.mean_days if one else None),
                          _days(other.mean_days if other else None)))
    return table


def limit_sentences(limits: Limits) -> list[str]:
    """What the replay took as it is now, for want of a date, said for people."""
    out = []
    if limits.paid_by_import:
        out.append(ngettext(
            "{count} invoice has a paid amount no recorded payment explains (an import): "
            "it is taken as paid before the first day.",
            "{count} invoices have a paid amount no recorded payment explains (an import): "
            "it is taken as paid before the first day.",
            limits.paid_by_import).format(count=show_count(limits.paid_by_import)))
    if limits.plans:
        out.append(ngettext(
            "{count} payment plan is taken as it stands today.",
            "{count} payment plans are taken as they stand today.",
            limits.plans).format(count=show_count(limits.plans)))
    if limits.settled_promises:
        out.append(ngettext(
            "{count} promise is taken as kept, broken or cancelled as it is today.",
            "{count} promises are taken as kept, broken or cancelled as they are today.",
            limits.settled_promises).format(count=show_count(limits.settled_promises)))
    if limits.undated_pauses:
        out.append(ngettext(
            "{count} debtor paused with no recorded pause is taken as paused all along.",
            "{count} debtors paused with no recorded pause are taken as paused all along.",
            limits.undated_pauses).format(count=show_count(limits.undated_pauses)))
    if limits.level_resets:
        out.append(ngettext(
            "{count} level started again by hand in the period is not started again in "
            "the replay.",
            "{count} levels started again by hand in the period are not started again in "
            "the replay.",
            limits.level_resets).format(count=show_count(limits.level_resets)))
    return out
