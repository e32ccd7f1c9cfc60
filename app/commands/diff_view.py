"""What `relance diff` prints: the rules' text diff, then what the change would do.

Three shapes: `table` for a terminal (fits 100 columns: the detail's cells wrap rather
than widen the table), `markdown` to paste into a merge request (the rule text in a
`diff` block, the detail folded under `<details>`), `json` for programs (everything,
never cut). The rule text is the language's own and is never translated; the sentences
and column titles around it are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from relance.commands.diff_cmd import DiffFormat
from relance.context import AppContext, add_row, print_table, say
from relance.engine.behaviour_diff import Shift
from relance.engine.rulediff import Part
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from relance.engine.behaviour_diff import BehaviourDiff, RuleTally, Step, StepChange
    from relance.engine.rule_sources import RuleSide
    from relance.engine.rulediff import RuleDifference


PART_WORDS: dict[Part, str] = {
    Part.SCOPE: N_("scope"), Part.ORDER: N_("order of the rules"),
    Part.CONDITION: N_("condition"), Part.ACTION: N_("action"), Part.OPTIONS: N_("options"),
}

SHIFT_WORDS: dict[Shift, str] = {
    Shift.NEW: N_("added"), Shift.GONE: N_("removed"), Shift.EARLIER: N_("earlier"),
    Shift.LATER: N_("later"), Shift.OTHER: N_("other action"), Shift.TONE: N_("other tone"),
}

# The summary's columns, in the order a reviewer reads them.
SUMMARY_SHIFTS = (Shift.NEW, Shift.GONE, Shift.EARLIER, Shift.LATER, Shift.OTHER,
                  Shift.TONE)


@dataclass(frozen=True)
class Comparison:
    """Everything one `relance diff` found."""

    old: RuleSide
    new: RuleSide
    rules: tuple[RuleDifference, ...]
    behaviour: BehaviourDiff | None

    @property
    def differs(self) -> bool:
        return bool(self.rules) or bool(self.behaviour and self.behaviour.changes)

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old.to_json(), "new": self.new.to_json(),
                "rules": [difference.to_json() for difference in self.rules],
                "behaviour": self.behaviour.to_json() if self.behaviour else None}


# --------------------------------------------------------------------------- words


def difference_title(difference: RuleDifference) -> str:
    """`rule relance_1 changed: condition`, as a person reads it."""
    from relance.engine.rulediff import Change

    if difference.rule is None:
        if difference.change is Change.ADDED:
            return _("policy added")
        if difference.change is Change.REMOVED:
            return _("policy removed")
        return _("policy changed: {parts}").format(parts=_parts(difference.parts))
    if difference.change is Change.ADDED:
        return _("rule {rule} added").format(rule=difference.rule)
    if difference.change is Change.REMOVED:
        return _("rule {rule} removed").format(rule=difference.rule)
    return _("rule {rule} changed: {parts}").format(rule=difference.rule,
                                                   parts=_parts(difference.parts))


def _parts(parts: Sequence[Part]) -> str:
    return ", ".join(_(PART_WORDS[part]) for part in parts)


def diff_lines(difference: RuleDifference) -> list[str]:
    """The rule text, `-` before what went and `+` before what came."""
    return [f"- {line}" for line in difference.old] + [f"+ {line}" for line in difference.new]


def sent_text(step: Step, manner: bool = False) -> str:
    """`e-mail relance_1`: what a step sends, with its tone or priority when `manner`
    (only where they changed: elsewhere they widen every row)."""
    from relance.engine.words import channel_word

    if step.channel == "escalate":
        what = _("escalate to {stage}").format(stage=step.target_stage or "?")
    elif step.channel == "call":
        what = channel_word("call")
    else:
        what = f"{channel_word(step.channel)} {step.template or ''}".strip()
    how = (step.tone or step.priority) if manner else None
    return f"{what} ({how})" if how else what


def change_cells(change: StepChange) -> tuple[str, str, str, str]:
    """The change, the day before, the day after, and what is sent (`letter relance_1
    → e-mail relance_1` when that changed), as a detail row shows them."""
    old, new = change.old, change.new
    manner = old is not None and new is not None and old.manner != new.manner
    sent = [sent_text(step, manner) for step in (old, new) if step is not None]
    what = sent[0] if len(set(sent)) == 1 else " → ".join(sent)
    day = [show_date(step.on) if step is not None else "—" for step in (old, new)]
    return (shift_text(change), day[0], day[1], what)


def shift_text(change: StepChange) -> str:
    """How a step moved: `+7 d` later, `-3 d` earlier, else in words."""
    days = change.days
    if change.shift in (Shift.EARLIER, Shift.LATER) and days is not None:
        return _("{days} d").format(days=f"{days:+d}")
    return _(SHIFT_WORDS[change.shift])


def owed_text(owed: dict[str, int], joiner: str = "\n") -> str:
    return joiner.join(show_money(minor, currency) for currency, minor in owed.items())


def sides_sentence(comparison: Comparison) -> str:
    return _("Rules compared: {old} → {new}").format(old=comparison.old.label(),
                                                      new=comparison.new.label())


def span_sentence(behaviour: BehaviourDiff) -> str:
    return _("What would be sent from {first} to {last}, if nobody pays and every action "
             "is approved:").format(first=show_date(behaviour.first),
                                    last=show_date(behaviour.last))


def steps_sentence(behaviour: BehaviourDiff) -> str:
    return ngettext(
        "{old} invoice step before, {new} after; {changes} change, {same} the same.",
        "{old} invoice steps before, {new} after; {changes} changes, {same} the same.",
        len(behaviour.changes)).format(
        old=show_count(behaviour.old_steps), new=show_count(behaviour.new_steps),
        changes=show_count(len(behaviour.changes)), same=show_count(behaviour.unchanged))


def more_sentence(hidden: int) -> str:
    return ngettext("{count} more change not shown: --limit 0 shows them all, "
                    "--format json gives them to programs.",
                    "{count} more changes not shown: --limit 0 shows them all, "
                    "--format json gives them to programs.", hidden).format(
        count=show_count(hidden))


def _by_policy(rules: Sequence[RuleDifference]) -> list[tuple[str, list[RuleDifference]]]:
    grouped: dict[str, list[RuleDifference]] = {}
    for difference in rules:
        grouped.setdefault(difference.policy, []).append(difference)
    return list(grouped.items())


def summary_shifts(tallies: Sequence[RuleTally]) -> list[Shift]:
    """The kinds of change that happened: a column for each, none for the others."""
    return [shift for shift in SUMMARY_SHIFTS if any(t.counts[shift] for t in tallies)]


def _tally_cells(tally: RuleTally, shifts: Sequence[Shift]) -> list[str]:
    return [show_count(tally.counts[shift]) if tally.counts[shift] else "·"
            for shift in shifts]


# --------------------------------------------------------------------------- table


def _summary_table(tallies: Sequence[RuleTally]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column(_("policy / rule"))
    shifts = summary_shifts(tallies)
    for shift in shifts:
        table.add_column(_(SHIFT_WORDS[shift]), justify="right")
    table.add_column(_("owed"), justify="right")
    for tally in tallies:
        add_row(table, f"{tally.policy} / {tally.rule}", *_tally_cells(tally, shifts),
                owed_text(tally.owed()))
    return table


def _detail_table(changes: Sequence[StepChange]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for title in (_("debtor"), _("invoice"), _("change"), _("before"), _("after")):
        table.add_column(title, no_wrap=True)
    table.add_column(_("what is sent"), overflow="fold")
    shown: tuple[str, str] = ("", "")
    for change in changes:
        # A debtor, and an invoice, written once for the rows that follow on them.
        same_debtor = shown[0] == change.debtor
        same_invoice = same_debtor and shown[1] == change.invoice
        add_row(table, "" if same_debtor else change.debtor,
                "" if same_invoice else change.invoice, *change_cells(change))
        shown = (change.debtor, change.invoice)
    return table


def _print_rules_text(console: Console, comparison: Comparison) -> None:
    if not comparison.rules:
        say(console, _("The rules say the same thing (layout and comments aside)."))
        return
    say(console, ngettext("{count} change in the rules:", "{count} changes in the rules:",
                          len(comparison.rules)).format(count=show_count(len(comparison.rules))))
    for policy, differences in _by_policy(comparison.rules):
        say(console, "")
        say(console, (_("policy {policy}").format(policy=policy), "bold"))
        for difference in differences:
            say(console, f"  {difference_title(difference)}")
            for line in diff_lines(difference):
                say(console, (f"    {line}", "red" if line.startswith("-") else "green"))


def show_table(context: AppContext, comparison: Comparison, limit: int) -> None:
    console = context.console
    say(console, sides_sentence(comparison))
    _print_rules_text(console, comparison)
    behaviour = comparison.behaviour
    if behaviour is None:
        return
    say(console, "")
    say(console, span_sentence(behaviour))
    say(console, steps_sentence(behaviour))
    if not behaviour.changes:
        return
    say(console, "")
    print_table(console, _summary_table(behaviour.tallies()))
    shown = list(behaviour.changes if limit <= 0 else behaviour.changes[:limit])
    say(console, "")
    console.print(_detail_table(shown))
    if len(shown) < len(behaviour.changes):
        say(console, more_sentence(len(behaviour.changes) - len(shown)))


# --------------------------------------------------------------------------- markdown


def _cell(text: str) -> str:
    """Text in a Markdown table cell: a pipe would end the cell, a newline the row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _markdown_table(titles: Sequence[str], rows: Sequence[Sequence[str]],
                    right: Callable[[int], bool]) -> list[str]:
    lines = ["| " + " | ".join(_cell(title) for title in titles) + " |",
             "|" + "|".join("---:" if right(i) else "---" for i in range(len(titles))) + "|"]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(comparison: Comparison, limit: int) -> str:
    out = [f"### {sides_sentence(comparison)}", ""]
    if not comparison.rules:
        out += [_("The rules say the same thing (layout and comments aside)."), ""]
    for policy, differences in _by_policy(comparison.rules):
        out += [f"**{_('policy {policy}').format(policy=policy)}**", "", "```diff"]
        for difference in differences:
            out.append(f"# {difference_title(difference)}")
            out += diff_lines(difference)
        out += ["```", ""]
    behaviour = comparison.behaviour
    if behaviour is None:
        return "\n".join(out)
    out += [f"### {span_sentence(behaviour)}", "", steps_sentence(behaviour), ""]
    if not behaviour.changes:
        return "\n".join(out)
    tallies = behaviour.tallies()
    shifts = summary_shifts(tallies)
    titles = [_("policy / rule"), *(_(SHIFT_WORDS[s]) for s in shifts), _("owed")]
    rows = [[f"{t.policy} / {t.rule}", *_tally_cells(t, shifts), owed_text(t.owed(), ", ")]
            for t in tallies]
    out += [*_markdown_table(titles, rows, lambda i: i > 0), ""]
    shown = list(behaviour.changes if limit <= 0 else behaviour.changes[:limit])
    out += ["<details><summary>" + ngettext(
        "{count} change per debtor and invoice", "{count} changes per debtor and invoice",
        len(behaviour.changes)).format(count=show_count(len(behaviour.changes)))
        + "</summary>", ""]
    detail = [[c.debtor, c.invoice, *change_cells(c),
               show_money(c.amount_minor, c.currency) if c.currency else ""] for c in shown]
    out += _markdown_table([_("debtor"), _("invoice"), _("change"), _("before"), _("after"),
                            _("what is sent"), _("owed")], detail, lambda i: i == 6)
    if len(shown) < len(behaviour.changes):
        out += ["", more_sentence(len(behaviour.changes) - len(shown))]
    out += ["", "</details>"]
    return "\n".join(out)


def show_comparison(context: AppContext, comparison: Comparison, shape: DiffFormat,
                    limit: int) -> None:
    """The comparison in the shape asked for, on stdout."""
    if shape is DiffFormat.JSON:
        context.emit_json(comparison.to_json())
    elif shape is DiffFormat.MARKDOWN:
        print(markdown(comparison, limit))
    else:
        show_table(context, comparison, limit)
