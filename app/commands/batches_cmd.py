"""`relance batches`: the print batches written for the mail house, and any letter
recorded as sent that no batch holds.

A letter counts as delivered to the mail house only once it is in a batch written to
disk (see `relance.channels.batches`); the listing comes from what the store recorded on
each letter, and says when a batch file is not on this machine.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from relance.context import AppContext

JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON.")]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def batches_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the print batches (file, day, letters, pages) and the sent letters in none."""
    from relance.channels.batches import print_batches

    context: AppContext = ctx.obj
    batches, loose = print_batches(context.store)
    if json_output or context.json_output:
        context.emit_json({"batches": [b.to_json() for b in batches],
                           "unbatched": [letter.to_json() for letter in loose]})
        return
    console: Console = context.console
    if not batches:
        console.print("No print batch yet.")
    else:
        noun = "print batch" if len(batches) == 1 else "print batches"
        console.print(f"{len(batches)} {noun}:")
    for batch in batches:
        missing = "" if batch.exists else "  [red](not on this machine)[/]"
        console.print(f"  {batch.date or '?'}  {_plural(len(batch.letters), 'letter')}, "
                      f"{_plural(batch.pages, 'page')}  {escape(batch.file)}{missing}",
                      soft_wrap=True)
    if not loose:
        return
    console.print(f"[yellow]{_plural(len(loose), 'letter')} sent in no print batch: if the "
                  "mail house never received one, print its PDF (or add it to the next "
                  "batch by hand).[/]", soft_wrap=True)
    for letter in loose:
        name = f" ({letter.debtor_name})" if letter.debtor_name else ""
        how = f", confirmed by {letter.confirmed_by}" if letter.confirmed_by else ""
        console.print(f"  action {letter.action}, {escape(letter.debtor + name)}, sent "
                      f"{letter.sent_at or '?'}{escape(how)}: "
                      f"{escape(letter.pdf or 'no PDF recorded')}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("batches")(batches_command)
