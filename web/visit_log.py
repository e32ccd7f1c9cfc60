"""The debtors' first views of their page, written to the store together.

A view that starts a visit is recorded before the page is answered (the rules read
`portal_visited`, the desk shows it), in a transaction of its own. When many debtors
open their page at once (a mailing just sent), one transaction per view queued them
behind the database's single writer: on SQLite, 2,000 first views took seconds each at
the 99th percentile. Here the views arriving while a write is under way wait for the
next one and are written with it, in one transaction (one read of the links, one
update, one append to the log: `record_openings`); each view is still answered only
once its visit is stored, and a quiet page writes alone, at once, as before."""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.concurrency import run_in_threadpool

from relance.engine.portal_links import record_openings
from relance.store.db import Store
from relance.store.models import utcnow


class VisitLog:
    """The visits of one server process, written a batch at a time."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: dict[int, dt.datetime] = {}  # link id → when it was opened
        self._batch: asyncio.Future[set[int]] | None = None  # what the waiting await
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # transactions written (the tests read it)

    async def record(self, link_id: int, moment: dt.datetime | None = None) -> bool:
        """Record the opening of `link_id` with the others waiting; returns once it is
        stored. True when it started a visit (see `record_opening`)."""
        self._waiting.setdefault(link_id, moment or utcnow())
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        # A visitor who leaves does not cancel the write the others wait on.
        return link_id in await asyncio.shield(batch)

    async def _write(self) -> None:
        try:
            while self._waiting:
                openings, self._waiting = self._waiting, {}
                batch, self._batch = self._batch, None
                assert batch is not None
                try:
                    recorded = await run_in_threadpool(self._commit, openings)
                except Exception as error:  # each view waiting answers with it
                    batch.set_exception(error)
                else:
                    batch.set_result(recorded)
        finally:
            self._writer = None

    def _commit(self, openings: dict[int, dt.datetime]) -> set[int]:
        with self._store.write_transaction() as session:
            recorded = record_openings(session, openings)
        self.writes += 1
        return recorded
