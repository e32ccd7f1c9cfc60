"""Writing validated rows to the book with SQLAlchemy Core, a batch at a time.

One batch costs a handful of statements whatever its size: a lookup of the debtors and
invoices it names, one multi-row INSERT and one executemany UPDATE. Rows are compared
with what is stored so that a re-import reports what it changed, and changes nothing
when the file says nothing new.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.importing.bulk import chunks, insert_columns, one_of
from relance.store.importing.cells import creditor_code_problem
from relance.store.importing.debtor_columns import (
    DEBTOR_STORED,
    debtor_plan,
    debtor_target,
    new_debtor_columns,
)
from relance.store.importing.debtor_tags import write_tags
from relance.store.importing.debtors import DebtorDraft, DebtorMerger, SettledDraft
from relance.store.importing.rows import InvoiceRow, Layout, RowColumns, RowError
from relance.store.models import (
    Creditor,
    Debtor,
    DebtorTag,
    Invoice,
    InvoiceStatus,
    PaymentAllocation,
    Promise,
    PromiseStatus,
    utcnow,
)
from relance.store.sequences import reserve_ids

creditor_t = cast(Table, Creditor.__table__)
debtor_t = cast(Table, Debtor.__table__)
tag_t = cast(Table, DebtorTag.__table__)
invoice_t = cast(Table, Invoice.__table__)
allocation_t = cast(Table, PaymentAllocation.__table__)
promise_t = cast(Table, Promise.__table__)


@dataclass
class Counts:
    """What a write changed, counted as it goes."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    debtors_created: int = 0
    debtors_updated: int = 0
    creditors_created: int = 0
    promises: int = 0


@dataclass
class _Existing:
    id: int
    values: dict[str, Any]
    allocated: int = 0


# The fields of a row, taken out of a whole batch by `map` (C code, no Python per row).
_CREDITOR = operator.attrgetter("creditor")
_DEBTOR_REF = operator.attrgetter("debtor_ref")
_NUMBER = operator.attrgetter("number")
_STATUS_OF_BALANCE = {0: InvoiceStatus.PAID}

_COMPARED = ("debtor_id", "issue_date", "due_date", "currency", "amount_minor", "paid_minor",
             "balance_minor", "status", "dispute_reason", "disputed_since", "attrs")


class BookWriter:
    """Writes batches of valid rows in the caller's transaction and counts what changed."""

    def __init__(self, conn: Connection, layout: Layout, *, today: dt.date, actor: str,
                 counts: Counts | None = None) -> None:
        self.conn = conn
        self.layout = layout
        self.today = today
        self.actor = actor
        self.counts = counts if counts is not None else Counts()
        self.creditor_ids: dict[str, int] = {}
        self.debtor_ids: dict[tuple[str, str], int] = {}
        # What the debtor table held of each debtor met before the import (new ones are
        # written from their draft: `_finish_debtors`).
        self.debtor_stored: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.new_debtors: set[tuple[str, str]] = set()
        self.updated_debtors: set[int] = set()
        # Debtors whose invoices changed: their queue is settled before the import commits.
        self.touched_debtors: set[int] = set()
        # Debtors given new invoices: with the touched ones, every debtor whose rows the
        # import wrote (`changed_debtors`), which its event names for the next run.
        self.debtors_with_new_invoices: set[int] = set()
        # Creditors without a single invoice when the import began: a fresh load, so
        # nothing needs looking up (the file's numbers are already known to be unique).
        self.fresh_creditors: set[int] = set()
        # Those without a debtor either: the debtors the file names are all new.
        self.debtorless_creditors: set[int] = set()
        self._debtor_plan = debtor_plan(layout.debtor_columns)
        self._pauses = layout.has("paused_until")

    # ------------------------------------------------------------------ creditors

    def creditor_id(self, code: str) -> int:
        """The creditor's id; an unknown code creates the creditor, named after its code."""
        cached = self.creditor_ids.get(code)
        if cached is not None:
            return cached
        found = self.conn.execute(
            select(creditor_t.c.id).where(creditor_t.c.code == code)).scalar()
        if found is None:
            # The readers refuse a bad code with its row; this keeps one out of folder
            # names and headers whoever calls the writer.
            problem = creditor_code_problem(code)
            if problem is not None:
                raise UsageError(_("creditor {problem}").format(problem=problem))
            self.conn.execute(insert(creditor_t).values(code=code, name=code))
            found = self.conn.execute(
                select(creditor_t.c.id).where(creditor_t.c.code == code)).scalar_one()
            self.counts.creditors_created += 1
        if self.conn.execute(select(invoice_t.c.id).where(
                invoice_t.c.creditor_id == found).limit(1)).first() is None:
            self.fresh_creditors.add(int(found))
            if self.conn.execute(select(debtor_t.c.id).where(
                    debtor_t.c.creditor_id == found).limit(1)).first() is None:
                self.debtorless_creditors.add(int(found))
        self.creditor_ids[code] = int(found)
        return int(found)

    # ------------------------------------------------------------------ debtors

    def _resolve_debtors(self, keys: Iterable[tuple[str, str]], merger: DebtorMerger) -> None:
        by_creditor: dict[str, list[str]] = {}
        for creditor, ref in keys:
            by_creditor.setdefault(creditor, []).append(ref)
        for creditor, refs in by_creditor.items():
            creditor_id = self.creditor_id(creditor)
            if creditor_id not in self.debtorless_creditors:  # else all new: none to read
                self._read_debtors(creditor, creditor_id, refs)
            fresh = [ref for ref in refs if (creditor, ref) not in self.debtor_ids]
            if not fresh:
                continue
            keys = [(creditor, ref) for ref in fresh]
            columns = new_debtor_columns([merger.drafts[key] for key in keys], fresh,
                                         self._debtor_plan, self._pauses)
            self.new_debtors.update(keys)
            now = utcnow()  # one timestamp per batch, as for invoices
            ids = self._insert_debtors(creditor_id, fresh, now, columns)
            self.debtor_ids.update(zip(keys, ids, strict=True))
            self.counts.debtors_created += len(fresh)

    def _insert_debtors(self, creditor_id: int, refs: list[str], now: dt.datetime,
                        columns: dict[str, list[Any]]) -> list[int]:
        """Insert new debtors, given column by column; their ids, in order.

        Their ids are taken first (`reserve_ids`; the import's transaction holds the
        write lock on SQLite), then the rows are written in bulk: COPY on PostgreSQL,
        where an INSERT ... RETURNING cost 0.1 ms a debtor (an eighth of a
        ten-million-row import); on SQLite nothing is read back by ref any more."""
        count = len(refs)
        ids = reserve_ids(self.conn, debtor_t, count)
        insert_columns(self.conn, debtor_t, {
            "id": ids, "creditor_id": [creditor_id] * count, "ref": refs,
            "created_at": [now] * count, "updated_at": [now] * count, **columns})
        return ids

    def _read_debtors(self, creditor: str, creditor_id: int, refs: list[str]) -> None:
        """The ids and stored columns of those of `refs` the book has."""
        columns = [debtor_t.c[name] for name in DEBTOR_STORED]
        for chunk in chunks(sorted(refs)):
            for row in self.conn.execute(
                select(debtor_t.c.id, debtor_t.c.ref, *columns).where(
                    debtor_t.c.creditor_id == creditor_id,
                    one_of(self.conn, debtor_t.c.ref, chunk))
            ):
                key = (creditor, row.ref)
                self.debtor_ids[key] = row.id
                self.debtor_stored[key] = tuple(row[2:])

    def _finish_debtors(self, merger: DebtorMerger) -> list[RowError]:
        errors: list[RowError] = []
        changes: list[dict[str, Any]] = []
        new_debtors = self.new_debtors
        for key, draft in merger.drafts.items():
            debtor_id = self.debtor_ids.get(key)
            if debtor_id is None or type(draft) is SettledDraft:
                continue  # its rows were all refused, or nothing is left to write
            if key in new_debtors:
                if not draft.given("debtor_name"):
                    errors.append(RowError(draft.first_row, "debtor_name", _(
                        "debtor {ref} is new and no row gives its name").format(ref=key[1])))
                elif draft.varied:
                    # Inserted from its draft as it stood then: written again, later rows
                    # brought other cells (one set throughout leaves nothing to compare).
                    changes.append({"b_id": debtor_id, **debtor_target(
                        draft.values, None, key[1], self._debtor_plan, self._pauses)})
                continue
            target = self._known_target(key, draft)
            if target is not None:
                changes.append({"b_id": debtor_id, **target})
                self.updated_debtors.add(debtor_id)
        if changes:
            self.conn.execute(
                update(debtor_t).where(debtor_t.c.id == bindparam("b_id")), changes)
        if self.layout.has("tags"):
            self.updated_debtors |= write_tags(self.conn, merger.drafts, self.debtor_ids,
                                               new_debtors)
        self.counts.debtors_updated = len(self.updated_debtors)
        return errors

    # ------------------------------------------------------------------ invoices

    def _existing(self, creditors: list[str],
                  invoice_numbers: list[str]) -> dict[tuple[int, str], _Existing]:
        """What the book holds of these (creditor code, number) invoices."""
        creditor_ids = self.creditor_ids
        numbers: dict[int, list[str]] = {}
        if {creditor_ids[code] for code in set(creditors)} \
                - self.fresh_creditors:  # else nothing to look up, the common first load
            for code, number in zip(creditors, invoice_numbers, strict=True):
                creditor_id = creditor_ids[code]
                if creditor_id not in self.fresh_creditors:
                    numbers.setdefault(creditor_id, []).append(number)
        found: dict[tuple[int, str], _Existing] = {}
        compared = [invoice_t.c[name] for name in _COMPARED]
        for creditor_id, wanted in numbers.items():
            for chunk in chunks(wanted):
                for stored in self.conn.execute(
                    select(invoice_t.c.id, invoice_t.c.number, *compared).where(
                        invoice_t.c.creditor_id == creditor_id,
                        one_of(self.conn, invoice_t.c.number, chunk))
                ):
                    found[(creditor_id, stored.number)] = _Existing(
                        stored.id, dict(zip(_COMPARED, stored[2:], strict=True)))
        ids = {existing.id: existing for existing in found.values()}
        for id_chunk in chunks(list(ids)):
            for invoice_id, total in self.conn.execute(
                select(allocation_t.c.invoice_id, func.sum(allocation_t.c.amount_minor))
                .where(one_of(self.conn, allocation_t.c.invoice_id, id_chunk))
                .group_by(allocation_t.c.invoice_id)
            ):
                ids[invoice_id].allocated = int(total or 0)
        return found

    def _values(self, row: InvoiceRow, existing: _Existing | None) -> dict[str, Any]:
        paid = row.paid_minor
        if existing is not None and row.amount_minor > 0:
            # Payments recorded in relance and not yet in the ERP's figure still count.
            paid = max(paid, existing.allocated)
        balance = row.amount_minor - paid
        status = InvoiceStatus.PAID if balance == 0 else InvoiceStatus.OPEN
        values: dict[str, Any] = {
            "debtor_id": self.debtor_ids[(row.creditor, row.debtor_ref)],
            "issue_date": row.issue_date, "due_date": row.due_date, "currency": row.currency,
            "amount_minor": row.amount_minor, "paid_minor": paid, "balance_minor": balance,
            "status": status, "attrs": row.attrs,
        }
        if existing is not None:
            old = existing.values
            if old["status"] == InvoiceStatus.CANCELLED:
                values["status"] = InvoiceStatus.CANCELLED
            if self.layout.custom:
                values["attrs"] = {**(old["attrs"] or {}), **row.attrs}
            else:
                values["attrs"] = old["attrs"] or {}
        if self.layout.has("disputed"):
            values["dispute_reason"] = row.dispute_reason
            if row.dispute_reason is None:
                values["disputed_since"] = None
            elif existing is not None and existing.values["dispute_reason"] is not None:
                values["disputed_since"] = existing.values["disputed_since"] or self.today
            else:
                values["disputed_since"] = self.today
        elif existing is None:
            values["dispute_reason"] = None
            values["disputed_since"] = None
        else:
            values["dispute_reason"] = existing.values["dispute_reason"]
            values["disputed_since"] = existing.values["disputed_since"]
        return values

    def _people(self, creditors: list[str], refs: list[str], merger: DebtorMerger) -> list[int]:
        """The debtor id of each row, creating the creditors and debtors the book lacks
        in the order the file names them, so that they get the same ids on every import
        of the same file."""
        for code in dict.fromkeys(creditors):
            self.creditor_id(code)
        known, keys = self.debtor_ids, list(zip(creditors, refs, strict=True))
        ids: list[int | None] = list(map(known.get, keys))  # one look-up per row
        if None not in ids:
            return cast(list[int], ids)
        missing = itertools.compress(keys, map(operator.is_, ids, itertools.repeat(None)))
        self._resolve_debtors(list(dict.fromkeys(missing)), merger)
        return list(map(known.__getitem__, keys))

    def write_columns(self, rows: RowColumns, merger: DebtorMerger) -> None:
        """`write` for a batch held as columns: inserted as they are when every invoice
        is new and none carries a promise (a first load), else taken row by row."""
        debtor_ids = self._people(rows.creditor, rows.debtor_ref, merger)
        promised = self.layout.has("promised_until") and \
            rows.promised_until.count(None) != len(rows)
        existing = self._existing(rows.creditor, rows.number)
        if promised or existing:
            self.write(rows.rows(), merger, existing)
            return
        self._insert(rows, utcnow(), debtor_ids)
        self.counts.created += len(rows)

    def write(self, rows: list[InvoiceRow], merger: DebtorMerger,
              existing: dict[tuple[int, str], _Existing] | None = None) -> None:
        """Store one batch of valid rows (invoices of distinct numbers); `existing`:
        what `_existing` answered for them, when already asked."""
        creditors = list(map(_CREDITOR, rows))
        self._people(creditors, list(map(_DEBTOR_REF, rows)), merger)
        if existing is None:
            existing = self._existing(creditors, list(map(_NUMBER, rows)))
        fresh: list[InvoiceRow] = rows if not existing else []
        updates: list[dict[str, Any]] = []
        now = utcnow()  # one timestamp per batch rather than a default called per row
        changed: set[tuple[int, str]] = set()
        creditor_ids = self.creditor_ids
        for row in rows if existing else ():
            old = existing.get((creditor_ids[row.creditor], row.number))
            if old is None:
                fresh.append(row)
                continue
            values = self._values(row, old)
            if any(values[name] != old.values[name] for name in _COMPARED):
                updates.append({"b_id": old.id, "updated_at": now, **values})
                changed.add((creditor_ids[row.creditor], row.number))
                self.touched_debtors.add(values["debtor_id"])
                # An invoice moved to another debtor changes the first one's case too.
                self.touched_debtors.add(old.values["debtor_id"])
        if fresh:
            self._insert(RowColumns.of_rows(fresh), now)
        if updates:
            self.conn.execute(update(invoice_t).where(invoice_t.c.id == bindparam("b_id")),
                              updates)
        promised = [row for row in rows if row.promised_until is not None] \
            if self.layout.has("promised_until") else []
        if promised:
            created = {(creditor_ids[row.creditor], row.number) for row in fresh}
            changed |= self._write_promises(promised) - created
            self.touched_debtors.update(self.debtor_ids[(row.creditor, row.debtor_ref)]
                                        for row in promised)
        self.counts.created += len(fresh)
        self.counts.updated += len(changed)
        self.counts.unchanged += len(rows) - len(fresh) - len(changed)

    def _insert(self, rows: RowColumns, now: dt.datetime,
                debtor_ids: list[int] | None = None) -> None:
        """Insert new invoices column by column (what `_values` gives a row with nothing
        stored, each column made by C code), with each row's `debtor_ids` if known."""
        count = len(rows)
        balances = list(map(operator.sub, rows.amount_minor, rows.paid_minor))
        reasons: list[str | None] = [None] * count
        since: list[dt.date | None] = [None] * count
        if self.layout.has("disputed"):
            reasons = rows.dispute_reason
            since = [None if reason is None else self.today for reason in reasons]
        columns: dict[str, list[Any]] = {
            "creditor_id": list(map(self.creditor_ids.__getitem__, rows.creditor)),
            "number": rows.number,
            "created_at": [now] * count,
            "updated_at": [now] * count,
            "debtor_id": debtor_ids or list(map(self.debtor_ids.__getitem__,
                                                zip(rows.creditor, rows.debtor_ref, strict=True))),
            "issue_date": rows.issue_date,
            "due_date": rows.due_date,
            "currency": rows.currency,
            "amount_minor": rows.amount_minor,
            "paid_minor": rows.paid_minor,
            "balance_minor": balances,
            # PAID for a zero balance, OPEN otherwise, looked up in C.
            "status": list(map(_STATUS_OF_BALANCE.get, balances,
                               itertools.repeat(InvoiceStatus.OPEN))),
            "attrs": rows.attrs,
            "dispute_reason": reasons,
            "disputed_since": since,
        }
        self.debtors_with_new_invoices.update(columns["debtor_id"])
        insert_columns(self.conn, invoice_t, columns)

    def _write_promises(self, rows: list[InvoiceRow]) -> set[tuple[int, str]]:
        """Record the promises rows carry; returns the (creditor id, number) of invoices
        whose open promise was new or moved."""
        ids: dict[tuple[int, str], int] = {}
        by_creditor: dict[int, list[str]] = {}
        for row in rows:
            by_creditor.setdefault(self.creditor_ids[row.creditor], []).append(row.number)
        for creditor_id, numbers in by_creditor.items():
            for chunk in chunks(numbers):
                for invoice_id, number in self.conn.execute(
                    select(invoice_t.c.id, invoice_t.c.number).where(
                        invoice_t.c.creditor_id == creditor_id,
                        one_of(self.conn, invoice_t.c.number, chunk))
                ):
                    ids[(creditor_id, number)] = invoice_id
        open_promises: dict[int, tuple[int, dt.date]] = {}
        for id_chunk in chunks(list(ids.values())):
            for promise_id, invoice_id, promised_on in self.conn.execute(
                select(promise_t.c.id, promise_t.c.invoice_id, promise_t.c.promised_on).where(
                    one_of(self.conn, promise_t.c.invoice_id, id_chunk),
                    promise_t.c.status == PromiseStatus.OPEN)
                .order_by(promise_t.c.id)
            ):
                open_promises[invoice_id] = (promise_id, promised_on)
        added: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        changed: set[tuple[int, str]] = set()
        for row in rows:
            creditor_id = self.creditor_ids[row.creditor]
            invoice_id = ids[(creditor_id, row.number)]
            current = open_promises.get(invoice_id)
            if current is None:
                added.append({
                    "creditor_id": creditor_id,
                    "debtor_id": self.debtor_ids[(row.creditor, row.debtor_ref)],
                    "invoice_id": invoice_id, "promised_on": row.promised_until,
                    "status": PromiseStatus.OPEN, "recorded_by": self.actor,
                })
            elif current[1] != row.promised_until:
                moved.append({"b_id": current[0], "promised_on": row.promised_until})
            else:
                continue
            changed.add((creditor_id, row.number))
        if added:
            self.conn.execute(insert(promise_t), added)
        if moved:
            self.conn.execute(update(promise_t).where(promise_t.c.id == bindparam("b_id")),
                              moved)
        self.counts.promises += len(added) + len(moved)
        return changed

    def _known_target(self, key: tuple[str, str], draft: DebtorDraft) -> dict[str, Any] | None:
        """A debtor the book had, as `draft` leaves it: its columns when they change,
        None when they stay as stored."""
        stored = self.debtor_stored[key]
        target = debtor_target(draft.values, stored, key[1], self._debtor_plan, self._pauses)
        return None if tuple(target[name] for name in DEBTOR_STORED) == stored else target

    def settle(self, keys: Iterable[tuple[str, str]], merger: DebtorMerger) -> None:
        """Reduce the drafts of `keys` the writer is done with to their tags
        (`SettledDraft`): new debtors just written from them, and known ones they leave
        as stored, unless a later row changes them. For a copy of the drafts fed by
        another process (`apart`), which would otherwise hold every debtor's values
        twice over."""
        drafts = merger.drafts
        for key in keys:
            draft = drafts[key]
            if draft.varied:
                continue
            if key in self.new_debtors:
                done = draft.given("debtor_name")
            else:  # known, once read from the book; not yet read: kept whole
                done = key in self.debtor_stored and self._known_target(key, draft) is None
            if done:
                drafts[key] = SettledDraft.of(draft)

    @property
    def changed_debtors(self) -> set[int]:
        """Every debtor whose rows this import wrote: invoices added or changed, promises,
        the debtor's own fields (complete once `finish` has run)."""
        return self.touched_debtors | self.debtors_with_new_invoices

    def finish(self, merger: DebtorMerger) -> list[RowError]:
        """Apply the debtors' final values; returns problems only the whole file shows."""
        errors = self._finish_debtors(merger)
        self.touched_debtors |= self.updated_debtors
        return errors

