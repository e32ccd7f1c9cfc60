"""A large file read and checked in a second process while the import's process writes.

Reading and checking a row costs about as much Python as writing it; on one core the
two add up. Once a file has shown itself large (`APART_AFTER_ROWS` rows read),
the import forks: the child goes on with the reading side (`checking.check_rows`, which
touches no database) and hands each step over a pipe; the parent writes each step in
its transaction as it comes, so both cores work. Nothing else changes: the steps, the
rows written and their order, the errors and warnings are those of the one-process
import, which small files keep.

The child never touches the inherited database connection and leaves by `os._exit`, so
nothing of the parent (its connection, its buffered output, its exit handlers) is
closed or flushed twice. It ignores Ctrl-C: the parent alone decides, and ends the
child whenever it stops (an error, a refusal, an interrupt); a child whose parent died
meets a closed pipe at its next step and ends. What the child raises reaches the
parent as the same exception, raised there.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import traceback
from collections.abc import Generator, Iterator
from typing import IO, Any

from relance.kernel.i18n import _
from relance.store.importing import checking
from relance.store.importing.checking import Checked, Step
from relance.store.importing.debtors import DebtorDraft, DebtorMerger, DraftState
from relance.store.importing.first_rows import FirstRows
from relance.store.importing.rows import RowColumns
from relance.store.importing.scratch import Scratch

APART_AFTER_ROWS = 20_000
"""Rows read (in whole batches) in the import's own process before the rest is read
apart: a smaller file is done before a second process would pay for itself."""
PIPE_BYTES = 1 << 20
"""The pipe's capacity asked for: room for about a step ahead (Linux grants up to
/proc/sys/fs/pipe-max-size, 1 MB by default; elsewhere the default stays)."""

_NO_VALUES: dict[str, Any] = {}


class Steps:
    """The steps of a reading side (`check_rows`), in this process or, past the first
    batches, from a child; `checked` once they are all taken. Use as a context manager:
    leaving it ends and reaps the child, whatever happened."""

    def __init__(self, reading: Generator[Step, None, Checked], merger: DebtorMerger,
                 first_rows: FirstRows, label: str) -> None:
        self._reading = reading
        self._merger = merger
        self._first_rows = first_rows
        self._label = label
        # In batches: the rows are not counted, a refused file writes none of them.
        self._apart_after = -(-APART_AFTER_ROWS // checking.BATCH_SIZE) \
            if hasattr(os, "fork") else None
        self._child: int | None = None
        self._pipe: IO[bytes] | None = None
        self.checked: Checked | None = None

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._end_child()

    def __iter__(self) -> Iterator[Step]:
        batches = 0
        while True:
            try:
                step = next(self._reading)
            except StopIteration as end:
                self.checked = end.value
                return
            yield step  # written before the next is read: nothing is pending at a fork
            if step.columns is None and step.rows is None:
                batches += 1
                if batches == self._apart_after and self._fork():
                    yield from self._from_child()
                    return

    # ---------------------------------------------------------------- the parent

    def _fork(self) -> bool:
        read_end, write_end = os.pipe()
        # A capacity refused, or no such setting (not Linux): the default serves.
        with contextlib.suppress(OSError, AttributeError):
            import fcntl

            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._pipe = os.fdopen(read_end, "rb", buffering=PIPE_BYTES)
        # Ctrl-C held back until the child is known here and ignores it there: an
        # interrupt in between would leave a child nobody ends, or end it unannounced.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            try:
                child = os.fork()
            except OSError:  # no process left under the limits: read on here
                self._pipe.close()
                self._pipe = None
                os.close(write_end)
                return False
            if child == 0:
                os.close(read_end)
                _serve(self._reading, self._merger, self._first_rows, write_end,
                       held)  # never returns
            self._child = child
            os.close(write_end)
        finally:  # in this process only: the child leaves by os._exit
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return True

    def _from_child(self) -> Iterator[Step]:
        drafts, pipe = self._merger.drafts, self._pipe
        assert pipe is not None  # open while the child runs
        while True:
            try:
                kind, payload = pickle.load(pipe)
            except EOFError:
                raise self._lost() from None
            if kind == "step":
                if payload.drafts:
                    drafts.update(_restored(payload.drafts))
                yield payload
            elif kind == "end":
                self.checked, last_drafts = payload
                drafts.update(_restored(last_drafts))
                return
            else:
                raise payload

    def _lost(self) -> ChildProcessError:
        """The child ended without a word: killed (out of memory, by hand)."""
        status = self._end_child()
        if status is not None and os.WIFSIGNALED(status):
            how = _("killed by signal {signal}").format(signal=os.WTERMSIG(status))
        else:
            how = _("exit {code}").format(code=os.waitstatus_to_exitcode(status or 0))
        return ChildProcessError(_(
            "{label}: the process reading the file ended before its end ({how}); nothing "
            "was imported").format(label=self._label, how=how))

    def _end_child(self) -> int | None:
        """End the child if it still runs and reap it; its wait status."""
        child, self._child = self._child, None
        if self._pipe is not None:
            self._pipe.close()
        if child is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        return os.waitpid(child, 0)[1]


# -------------------------------------------------------------------- the child


def _serve(reading: Generator[Step, None, Checked], merger: DebtorMerger,
           first_rows: FirstRows, write_end: int, held: set[int | signal.Signals]) -> None:
    """In the child: run the rest of `reading`, each step and then the end (or the
    exception raised) pickled onto the pipe; leave without any clean-up of the
    parent's. `held`: the signal mask to restore once Ctrl-C is ignored. What the
    reading remembers of the whole file (debtors, invoice numbers) goes to a scratch
    database, so that this process's memory stays flat."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        pipe = os.fdopen(write_end, "wb", buffering=PIPE_BYTES)
        try:
            scratch = Scratch()
            merger.move_to(scratch)
            first_rows.move_to(scratch)
            while True:
                try:
                    step = next(reading)
                except StopIteration as end:
                    message: tuple[str, Any] = ("end", (end.value, merger.take_changed()))
                    break
                step.drafts = merger.take_changed()
                if step.columns is not None:
                    step.columns = _without_debtor_values(step.columns)
                pickle.dump(("step", step), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the parent raises it
            message = ("raise", _portable(exc))
        pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pipe.flush()
    except BaseException:  # a closed pipe: the parent is gone or done
        os._exit(1)
    os._exit(0)


def _restored(states: dict[tuple[str, str], DraftState],
              ) -> Iterator[tuple[tuple[str, str], DebtorDraft]]:
    restored = DebtorDraft.restored
    for key, state in states.items():
        yield key, restored(state)


def _without_debtor_values(columns: RowColumns) -> RowColumns:
    """A clean batch as the writer needs it: the debtors' values stay with the merger
    (the writer takes them from its drafts), which halves what crosses the pipe."""
    count = len(columns)
    return RowColumns(columns.row, columns.creditor, columns.debtor_ref, columns.number,
                      columns.issue_date, columns.due_date, columns.currency,
                      columns.amount_minor, columns.paid_minor, columns.dispute_reason,
                      columns.promised_until, columns.attrs, [_NO_VALUES] * count)


def _portable(exc: Exception) -> Exception:
    """`exc` as the parent can raise it, the child's traceback in its notes; one that
    does not survive pickling becomes a RuntimeError naming it."""
    exc.add_note("".join(traceback.format_exception(exc)))
    try:
        pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # any failure to cross is told the same way
        stand_in = RuntimeError(f"{type(exc).__name__}: {exc}")
        stand_in.add_note("".join(traceback.format_exception(exc)))
        return stand_in
    return exc
