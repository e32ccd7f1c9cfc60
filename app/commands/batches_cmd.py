"""`relance batches`: the print batches written for the mail house, and any letter
recorded as sent that no batch holds.

A letter counts as delivered to the mail house only once it is in a batch written to
disk (see `relance.channels.batches`); the listing comes from what the store recorded on
each letter, and says when a batch file is not on this machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import typer
from rich.console import Console
from rich.markup import escape

from relance.command_index import command_help
from relance.commands.case_support import reader_of, visible_actions
from relance.commands.options import JsonOption
from relance.context import AppContext
from relance.kernel.display import show_count, show_date, show_datetime
from relance.kernel.i18n import _, ngettext


def _shown(text: str | None, moment: bool = False) -> str:
    """A day (or moment) the store recorded as ISO text, as people read one."""
    if not text:
        return "?"
    try:
        return (show_datetime(dt.datetime.fromisoformat(text)) if moment
                else show_date(dt.date.fromisoformat(text)))
    except ValueError:
        return text


def _letters(count: int) -> str:
    return ngettext("{count} letter", "{count} letters", count).format(count=show_count(count))


def _pages(count: int) -> str:
    return ngettext("{count} page", "{count} pages", count).format(count=show_count(count))


def batches_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    from relance.channels.batches import print_batches

    context: AppContext = ctx.obj
    batches, loose = print_batches(context.store)
    reader = reader_of(context)
    if reader.creditors is not None:
        # A batch file may hold several creditors' letters: a user limited to some sees
        # only theirs, and a batch of none of theirs not at all.
        shown = visible_actions(context, reader, [letter for batch in batches
                                                   for letter in batch.letters]
                                + [letter.action for letter in loose])
        kept = []
        for batch in batches:
            pairs = [(a, d) for a, d in zip(batch.letters, batch.debtors, strict=True)
                     if a in shown]
            if pairs:
                kept.append(replace(batch, letters=[a for a, _ in pairs],
                                    debtors=[d for _, d in pairs]))
        batches = kept
        loose = [letter for letter in loose if letter.action in shown]
    if json_output or context.json_output:
        context.emit_json({"batches": [b.to_json() for b in batches],
                           "unbatched": [letter.to_json() for letter in loose]})
        return
    console: Console = context.console
    if not batches:
        console.print(_("No print batch yet."))
    else:
        console.print(escape(ngettext("{count} print batch:", "{count} print batches:",
                                      len(batches)).format(count=show_count(len(batches)))))
    for batch in batches:
        missing = f"  [red]{escape(_('(not on this machine)'))}[/]" if not batch.exists else ""
        console.print(f"  {_shown(batch.date)}  "
                      + escape(_("{letters}, {pages}").format(
                          letters=_letters(len(batch.letters)), pages=_pages(batch.pages)))
                      + f"  {escape(batch.file)}{missing}", soft_wrap=True)
    if not loose:
        return
    console.print("[yellow]" + escape(ngettext(
        "{letters} sent in no print batch: if the mail house never received it, print its "
        "PDF (or add it to the next batch by hand).",
        "{letters} sent in no print batch: if the mail house never received one, print its "
        "PDF (or add it to the next batch by hand).", len(loose)).format(
            letters=_letters(len(loose)))) + "[/]", soft_wrap=True)
    for letter in loose:
        debtor = (f"{letter.debtor} ({letter.debtor_name})" if letter.debtor_name
                  else letter.debtor)
        said = dict(action=letter.action, debtor=debtor, moment=_shown(letter.sent_at, moment=True),
                    who=letter.confirmed_by, pdf=letter.pdf or _("no PDF recorded"))
        console.print(escape((_("  action {action}, {debtor}, sent {moment}, confirmed by "
                                "{who}: {pdf}") if letter.confirmed_by else
                              _("  action {action}, {debtor}, sent {moment}: {pdf}"))
                             .format(**said)), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("batches", help=command_help("batches"))(batches_command)
