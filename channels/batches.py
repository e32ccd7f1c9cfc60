"""Print batches for the mail house: where they are written, and what `relance batches`
lists.

A letter counts as delivered to the mail house only once it is in a durable batch. The
dispatcher renders a claimed group of letters, commits for each the batch it is about to
go into (`claims.mark_batched`), writes the batch (synced, renamed into place whole),
then commits the letters `sent` with `output.batch`. A dispatcher killed in between
leaves letters in flight that the next one settles by looking for the file: there,
they are sent; absent, none of them went out and they go back to the queue. So a sent
letter is in exactly one batch, and a letter is never in two.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from relance.channels.letter import batch_pages
from relance.store.db import Store
from relance.store.models import Action, ActionState, Channel, Debtor


def slug(text: str) -> str:
    """`text` as a safe part of a file name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:40].strip("_") or "x"


def batch_path(outbox: Path, day: dt.date, worker: str, number: int,
               at: dt.datetime) -> Path:
    """`outbox/letters/DAY/batch-HHMMSS-WORKER-NNN.pdf`: the worker's random suffix and
    its running number keep two dispatchers, or two groups of one, from sharing a name."""
    return outbox / "letters" / day.isoformat() / (
        f"batch-{at:%H%M%S}-{slug(worker.split(':')[-1])}-{number:03d}.pdf")


@dataclass(frozen=True)
class PrintBatch:
    """One print file and the letters in it, as the store records them."""

    file: str
    date: str | None
    letters: list[int]
    debtors: list[str]
    pages: int
    exists: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LooseLetter:
    """A letter committed `sent` that no batch holds: confirmed by an operator after an
    uncertain send, or sent by a version of relance that batched only at the end of a
    dispatch (a dispatcher killed before it lost them from the mail house's view)."""

    action: int
    debtor: str
    debtor_name: str
    sent_at: str | None
    pdf: str | None
    pages: int | None
    confirmed_by: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _batch_day(file: str, sent_at: dt.datetime | None) -> str | None:
    # Batches live in a folder named after the dispatch day; the send time is a fallback.
    try:
        return dt.date.fromisoformat(Path(file).parent.name).isoformat()
    except ValueError:
        return sent_at.date().isoformat() if sent_at else None


def print_batches(store: Store) -> tuple[list[PrintBatch], list[LooseLetter]]:
    """The print batches of the sent letters (by date, then file) and the sent letters
    in no batch (oldest first)."""
    grouped: dict[str, list[tuple[int, str, int, dt.datetime | None]]] = {}
    loose: list[LooseLetter] = []
    with store.transaction() as session:
        rows = session.execute(
            select(Action.id, Action.output, Action.sent_at, Debtor.ref, Debtor.name)
            .join(Debtor, Debtor.id == Action.debtor_id)
            .where(Action.channel == Channel.LETTER, Action.state == ActionState.SENT)
            .order_by(Action.id)).all()
    for action_id, output, sent_at, ref, name in rows:
        output = output or {}
        pages = output.get("pages")
        if output.get("batch"):
            grouped.setdefault(str(output["batch"]), []).append(
                (action_id, ref, int(pages or 0), sent_at))
            continue
        loose.append(LooseLetter(action_id, ref, name or "",
                                 sent_at.isoformat() if sent_at else None,
                                 output.get("pdf"), pages, output.get("confirmed_by")))
    batches = [
        PrintBatch(file, _batch_day(file, letters[0][3]), [a for a, _, _, _ in letters],
                   [ref for _, ref, _, _ in letters], batch_pages(p for _, _, p, _ in letters),
                   Path(file).is_file())
        for file, letters in grouped.items()]
    batches.sort(key=lambda b: (b.date or "", b.file))
    return batches, loose


__all__ = ["LooseLetter", "PrintBatch", "batch_path", "print_batches", "slug"]
