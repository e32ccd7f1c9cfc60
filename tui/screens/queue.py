"""The queue: proposed actions grouped by debtor, filtered, previewed, approved or rejected.

Approving sends nothing: `relance dispatch` does. Decisions bind to what the operator saw
(state and content hash); an action someone else decided meanwhile is reported. The
queue follows the store: what is committed anywhere shows at the next poll, the cursor
staying on its action. Over 500 lines because its reads, decisions, filters and search
are one screen's keys over one list.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from relance.engine import casework
from relance.engine.casework import BulkResult, Seen
from relance.engine.words import channel_word, state_word
from relance.kernel.display import show_count, show_date, show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _, ngettext
from relance.tui import data, queue_list
from relance.tui.preview import preview_document
from relance.tui.screens.document import DocumentScreen, open_in_viewer
from relance.tui.screens.list_screen import ListScreen
from relance.tui.screens.modals import ConfirmScreen, Field, FormScreen
from relance.tui.screens.portfolio import PORTFOLIO_BINDING, PortfolioScreen
from relance.tui.screens.queue_form import filter_form
from relance.tui.widgets.lazy_table import Column, LazyTable

# A read taking longer than this (seconds) runs the next ones in a thread.
QUICK_READ = 0.03
# Up to this many actions shown, the queue is read into memory before the key returns
# (a few ms); more are read in a thread.
MEMORY_AT_ONCE = 5_000
# Typing waits this long (seconds) for the next key before reading: a fast typist's
# word is one read.
TYPING_PAUSE = 0.12

# Above this many actions a bulk decision runs off the UI thread, in chunks.
BACKGROUND_BULK = 1000
BULK_CHUNK = 500


def _cells(row: data.QueueRow) -> list[str]:
    return [f"{row.debtor_name} ({row.debtor_ref})", channel_word(row.channel), row.rule,
            show_count(row.invoices), show_money(row.amount_minor, row.currency)
            if row.currency else "", state_word(row.state)]


QUEUE_COLUMNS = [
    Column(N_("Debtor"), 16, sort="name", grow=3),
    Column(N_("Chan."), 6, sort="channel"),
    Column(N_("Rule"), 12, grow=1),
    Column(N_("Inv"), 3, "right"),
    Column(N_("Amount"), 14, "right", sort="amount"),
    Column(N_("State"), 8, sort="state"),
]


class QueueTable(LazyTable[data.QueueRow]):
    pass


class QueueScreen(PortfolioScreen, ListScreen[data.QueueRow]):
    """Proposed actions of the latest runs, by debtor."""

    TITLE = N_("Queue")
    NAME = "queue"
    ID_PREFIX = "queue"
    DETAIL_LINES = 4
    DEFAULT_CSS = """
    #queue-bar { height: 1; background: $boost; padding: 0 1; }
    #queue-search { dock: bottom; display: none; }
    #queue-search.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", N_("Approve")),
        Binding("r", "reject", N_("Reject")),
        Binding("space", "select", N_("Select"), show=False),
        Binding("A", "approve_all", N_("All")),
        Binding("R", "reject_all", N_("Reject all"), show=False),
        Binding("f", "filters", N_("Filter")),
        Binding("slash", "search", N_("Search")),
        Binding("s", "sort", N_("Sort")),
        Binding("S", "reverse", N_("Reverse"), show=False),
        Binding("x", "clear", N_("Clear"), show=False),
        Binding("enter,p", "preview", N_("Preview")),
        Binding("o", "open_pdf", N_("PDF"), show=False),
        Binding("c", "case", N_("Case"), show=False),
        PORTFOLIO_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = data.QueueFilter()
        self._opened = False
        self.total = 0  # actions of the filter's state, whatever the other filters
        self.totals: dict[str, int] | None = None  # of the actions shown, per currency
        self._generation = 0  # of the latest read asked for: only its result is shown
        self._took = 0.0  # seconds the last read took
        self._searching = False
        self._typed: Timer | None = None
        # The work waiting, in memory once read (`queue_list`); the state being read.
        self._memory: queue_list.QueueList | None = None
        self._reading_memory: queue_list.Base | None = None

    def scoped_filter(self) -> data.QueueFilter:
        """The filter within the user's creditors and, when they work it, portfolio."""
        return dataclasses.replace(self.filter, scope=self.ctx.creditor_ids,
                                   collector=self.collector() or "")

    def compose_above(self) -> Iterable[Widget]:
        yield Static("", id="queue-bar")

    def make_table(self) -> Widget:
        columns = [dataclasses.replace(c, label=_(c.label)) for c in QUEUE_COLUMNS]
        return QueueTable(columns, _cells, key=lambda r: r.action_id,
                          group=lambda r: r.debtor_id, group_columns=1, id="queue-table")

    def compose_below(self) -> Iterable[Widget]:
        yield Input(placeholder=_("search a debtor, a reference or an invoice number as "
                                  "you type; Enter keeps it, Esc leaves"), id="queue-search")

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    @property
    def current(self) -> data.QueueRow | None:
        return self.table.current

    def debtor_of(self, row: data.QueueRow) -> int | None:
        return row.debtor_id

    def reload(self) -> None:
        self._load(follow=False)

    def follow_changes(self) -> None:
        self._load(follow=True)

    def _load(self, *, follow: bool, background: bool | None = None) -> None:
        """Show the queue again: from the actions held in memory when the filter's
        state is work waiting and they are read (brought up to date with the store
        first), else from the database, the memory being read meanwhile (in a thread on
        a big book)."""
        flt = self.scoped_filter()
        base = queue_list.base_of(flt, self.ctx.today)
        memory = self._memory
        if memory is not None and base is not None and memory.base == base:
            with self.ctx.reading() as session:
                if memory.refresh(session):
                    self._show_memory(memory, flt, follow=follow)
                    return
        self._memory = None
        self._load_from_database(follow=follow, background=background)
        if base is not None:
            self._read_memory(base)

    def _read_memory(self, base: queue_list.Base) -> None:
        """Read the actions of `base` into memory: at once for a short queue, else in a
        thread, the keys meanwhile reading the database."""
        if self._reading_memory == base:
            return
        self._reading_memory = base

        def read() -> queue_list.QueueList:
            with self.ctx.reading() as session:
                return queue_list.QueueList(base, session)

        if self.table.row_count <= MEMORY_AT_ONCE:
            self._adopt(base, read())
            return

        def work() -> None:
            self.app.call_from_thread(self._adopt, base, read())

        self.run_worker(work, thread=True, group="queue-memory")

    def _adopt(self, base: queue_list.Base, memory: queue_list.QueueList) -> None:
        if self._reading_memory == base:
            self._reading_memory = None
        if queue_list.base_of(self.scoped_filter(), self.ctx.today) == base:
            self._memory = memory

    def _show_memory(self, memory: queue_list.QueueList, flt: data.QueueFilter, *,
                     follow: bool) -> None:
        """The filter's view of the actions in memory: count, totals, the cursor's page."""
        self._generation += 1
        table = self.table
        was = table.current if follow else None
        count, totals = memory.figures(flt)
        everything = flt.bare(flt.state)
        total = count if flt == everything else memory.figures(everything)[0]
        cursor = max(0, min(table.cursor, count - 1))
        page = cursor // table.page_size
        position = None if was is None else memory.position(flt, was.action_id)
        if position is not None and flt.sort and position // table.page_size != page:
            position = None  # another order: the cursor stays where it was
        if position is not None:
            page = position // table.page_size
        rows = memory.page(flt, page * table.page_size, table.page_size)
        found = data.QueueRead(flt, memory.paused, count, total, page, rows, position, False)
        self._show(self._generation, found, follow,
                   fetch=lambda offset, limit: memory.page(flt, offset, limit))
        self._show_totals(self._generation, totals)

    def _load_from_database(self, *, follow: bool, background: bool | None = None) -> None:
        """Read the queue again. After a decision or a new filter the selection is
        cleared; when following others' changes it is kept (a selected action changed
        meanwhile is refused when decided, as always) and the cursor stays on its action.

        On a big book (the last read took more than `QUICK_READ`) the read runs in a
        thread and the key returns at once, "searching…" on the count line; the latest
        read wins: one started earlier and ending later is ignored."""
        self._generation += 1
        generation, flt, table = self._generation, self.scoped_filter(), self.table
        was = table.current if follow else None
        at = (was.debtor_id, was.action_id) if was is not None else None
        first_open = not self._opened
        self._opened = True

        def read() -> data.QueueRead:
            began = time.perf_counter()
            with self.ctx.reading() as session:
                found = data.read_queue(session, flt, today=self.ctx.today, cursor=table.cursor,
                                        page_size=table.page_size, was=at,
                                        first_open=first_open)
            self._took = time.perf_counter() - began
            return found

        if background is None:
            background = self._took > QUICK_READ
        if not background:
            self._show(generation, read(), follow)
            self._show_totals(generation, self._read_totals(flt))
            return
        self._searching = True
        self._update_bar()

        def work() -> None:
            found = read()
            self.app.call_from_thread(self._show, generation, found, follow)
            if generation == self._generation:  # not for a read already overtaken
                totals = self._read_totals(found.filter)
                self.app.call_from_thread(self._show_totals, generation, totals)

        self.run_worker(work, thread=True, group="queue-read")

    def _read_totals(self, flt: data.QueueFilter) -> dict[str, int]:
        with self.ctx.reading() as session:
            return data.queue_totals(session, flt, today=self.ctx.today)

    def _show(self, generation: int, found: data.QueueRead, follow: bool,
              fetch: Callable[[int, int], list[data.QueueRow]] | None = None) -> None:
        if generation != self._generation:
            return  # a newer key asked for another read
        flt, table = found.filter, self.table
        if found.switched:
            self.filter = flt
            self.notify(_("Nothing waits for approval; showing the approved actions "
                          "dispatch will send (r rejects one before it goes)."))
        self.total, self.totals = found.total, None
        # The last row of each page read: the next page continues from it (keyset)
        # rather than counting its offset again, which grows with the depth.
        ends: dict[int, tuple[int, int]] = {}

        def read_page(offset: int, limit: int) -> list[data.QueueRow]:
            with self.ctx.store.session() as session:
                rows = data.queue_page(session, flt, offset, limit, after=ends.get(offset),
                                       total=found.count, paused=found.paused)
            if len(rows) == limit:
                ends[offset + limit] = (rows[-1].debtor_id, rows[-1].action_id)
            return rows

        if not follow:
            table.selected.clear()
        table.load(found.count, fetch or read_page, pages={found.page: found.rows})
        if found.position is not None:
            table.cursor = found.position
        self._update_bar()

    def _show_totals(self, generation: int, totals: dict[str, int]) -> None:
        if generation == self._generation:
            self.totals, self._searching = totals, False
            self._update_bar()

    def _update_bar(self) -> None:
        table = self.table
        parts = [ngettext("{shown} action shown of {total}", "{shown} actions shown of {total}",
                          table.row_count).format(shown=show_count(table.row_count),
                                                  total=show_count(self.total))]
        parts += [show_money(v, c) for c, v in sorted((self.totals or {}).items())]
        if table.selected:
            parts.append(_("{count} selected").format(count=show_count(len(table.selected))))
        parts.append(self.filter.describe())
        parts[:0] = [line for line in (self.portfolio_text(),) if line]
        if self._searching:
            parts.append(_("searching…"))
        self.query_one("#queue-bar", Static).update(" · ".join(parts))
        sorts = [c.sort for c in QUEUE_COLUMNS]
        table.sort_column = sorts.index(self.filter.sort) if self.filter.sort else None
        table.sort_descending = self.filter.descending

    @on(LazyTable.Highlighted)
    def _highlighted(self, event: LazyTable.Highlighted) -> None:
        if event.index == self.table.cursor:
            # Not for each row passed while a key is held down: only the row the cursor
            # rests on is worth a read.
            self.show_detail()

    def empty_text(self) -> str:
        if self.filter != self.filter.bare():
            return _("Nothing to review with these filters (x clears them).")
        return _("Nothing waits for a decision. `relance run` queues the day's actions; "
                 "f shows other states.")

    def detail(self, row: data.QueueRow) -> str:
        with self.ctx.reading() as session:
            info = data.action_detail(session, row.action_id)
        if info is None:
            return ""
        lines = " · ".join(
            (_("{number} {amount} due {day} (dropped: {reason})") if line.drop_reason
             else _("{number} {amount} due {day}")).format(
                number=escape(line.number), amount=show_money(line.balance_minor, line.currency),
                day=show_date(line.due_date), reason=escape(line.drop_reason or ""))
            for line in info.lines[:4])
        more = f" +{len(info.lines) - 4}" if len(info.lines) > 4 else ""
        first = info.lines[0] if info.lines else None
        rule = (f"{first.rule} ({first.rule_file}:{first.rule_line})" if first else "—")
        return (
            f"[b]{escape(info.debtor.name)}[/b] {escape(info.debtor.ref)} · {info.creditor.code} · "
            f"{info.debtor.segment} · #{info.action.id} {channel_word(info.action.channel)} "
            f"{info.action.template or ''}\n{lines}{more}\n"
            + _("{rule} · rules {ruleset}").format(rule=rule, ruleset=info.ruleset)
        )

    # ------------------------------------------------------------------ choosing

    def _targets(self) -> list[Seen]:
        table = self.table
        if table.selected:
            return [row.seen() for row in table.selected.values()]
        row = table.current
        return [row.seen()] if row else []

    def action_select(self) -> None:
        self.table.toggle_selected()
        self.table.action_cursor(1)
        self._update_bar()

    def action_clear(self) -> None:
        self.filter = data.QueueFilter(sort=self.filter.sort, descending=self.filter.descending)
        self.reload()

    def action_sort(self) -> None:
        """The next sortable column (amounts largest first), then by debtor again."""
        sorts = [c.sort for c in QUEUE_COLUMNS if c.sort]
        now = sorts.index(self.filter.sort) + 1 if self.filter.sort in sorts else 0
        name = sorts[now] if now < len(sorts) else ""
        self.filter = dataclasses.replace(self.filter, sort=name, descending=name == "amount")
        self.table.cursor = 0
        self._load(follow=True)

    def action_reverse(self) -> None:
        if self.filter.sort:
            self.filter = dataclasses.replace(self.filter, descending=not self.filter.descending)
            self.table.cursor = 0
            self._load(follow=True)

    @on(LazyTable.HeaderClicked)
    def _heading(self, event: LazyTable.HeaderClicked) -> None:
        name = QUEUE_COLUMNS[event.column].sort
        if name and name == self.filter.sort:
            self.action_reverse()
        elif name:
            self.filter = dataclasses.replace(self.filter, sort=name,
                                              descending=name == "amount")
            self.table.cursor = 0
            self._load(follow=True)

    # ------------------------------------------------------------------ deciding

    def _report(self, approved: bool, result: BulkResult) -> None:
        done = len(result.done)
        message = (ngettext("{count} approved", "{count} approved", done) if approved
                   else ngettext("{count} rejected", "{count} rejected", done)).format(
            count=show_count(done))
        if result.skipped:
            message += " " + _("({count} not proposed, left as they were)").format(
                count=show_count(len(result.skipped)))
        if result.conflicts:
            message += "; " + _("{count} left as they were, changed by someone else "
                                "meanwhile (first: {first})").format(
                count=show_count(len(result.conflicts)), first=result.conflicts[0].message)
        if result.refused:
            message += "; " + _("{count} refused (first: {first})").format(
                count=show_count(len(result.refused)), first=result.refused[0][1])
        if result.conflicts or result.refused:
            self.notify(message, severity="warning", timeout=10)
        else:
            self.notify(message)

    def _decide(self, targets: list[Seen], reason: str | None) -> None:
        ctx = self.ctx
        if len(targets) > BACKGROUND_BULK:
            self.notify(_("Working on {count} actions…").format(
                count=show_count(len(targets))))
            self.run_worker(lambda: self._decide_in_chunks(targets, reason), thread=True,
                            exclusive=True, group="bulk")
            return

        def change(session: object) -> BulkResult:
            from sqlalchemy.orm import Session

            assert isinstance(session, Session)
            if reason is None:
                return casework.approve_many(session, ctx.actor, targets, policy=ctx.policy,
                                             now=ctx.now)
            return casework.reject_many(session, ctx.actor, targets, reason, now=ctx.now)

        result = self.perform(change)
        if result is not None:
            self._report(reason is None, result)

    def _decide_in_chunks(self, targets: list[Seen], reason: str | None) -> None:
        ctx = self.ctx
        total = BulkResult()
        try:
            for start in range(0, len(targets), BULK_CHUNK):
                chunk = targets[start:start + BULK_CHUNK]
                with ctx.writing() as session:
                    if reason is None:
                        part = casework.approve_many(session, ctx.actor, chunk,
                                                     policy=ctx.policy, now=ctx.now)
                    else:
                        part = casework.reject_many(session, ctx.actor, chunk, reason,
                                                    now=ctx.now)
                total.done += part.done
                total.skipped += part.skipped
                total.conflicts += part.conflicts
                total.refused += part.refused
        except UsageError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
        self.app.call_from_thread(self._report, reason is None, total)
        self.app.call_from_thread(self.reload)

    def action_approve(self) -> None:
        targets = self._targets()
        if targets:
            self._decide(targets, None)

    def _ask_reason(self, targets: list[Seen], title: str) -> None:
        if not self.may_write():
            return
        def check(answers: dict[str, str]) -> str | None:
            return None if answers["reason"] else _("A rejection needs a reason.")

        def then(answers: dict[str, str] | None) -> None:
            if answers:
                self._decide(targets, answers["reason"])

        self.app.push_screen(FormScreen(title, [Field("reason", _("Reason"))], check), then)

    def action_reject(self) -> None:
        targets = self._targets()
        if targets:
            self._ask_reason(targets, ngettext("Reject {count} action", "Reject {count} actions",
                                               len(targets)).format(count=len(targets)))

    def _all_filtered(self) -> list[Seen]:
        flt, memory = self.scoped_filter(), self._memory
        with self.ctx.reading() as session:
            if memory is not None and memory.base == queue_list.base_of(
                    flt, self.ctx.today) and memory.refresh(session):
                return memory.seen(flt)  # what the list shows, in its order
            return data.seen_for_filter(session, flt, today=self.ctx.today)

    def action_approve_all(self) -> None:
        if not self.may_write():
            return
        targets = self._all_filtered()
        if not targets:
            return

        def then(yes: bool | None) -> None:
            if yes:
                self._decide(targets, None)

        self.app.push_screen(ConfirmScreen(
            _("Approve all {count} actions shown ({filters})?\nNothing is sent until "
              "dispatch runs.").format(count=show_count(len(targets)),
                                       filters=self.filter.describe())), then)

    def action_reject_all(self) -> None:
        targets = self._all_filtered()
        if targets:
            self._ask_reason(targets, _("Reject all {count} actions shown").format(
                count=show_count(len(targets))))

    # ------------------------------------------------------------------ filtering

    def action_filters(self) -> None:
        fields, parse = filter_form(self, self.filter)

        def apply(chosen: data.QueueFilter) -> None:
            self.filter = chosen
            self.reload()

        # Filtering only reads: an auditor may do it too.
        self.ask(_("Filter the queue"), fields, parse, apply, writes=False)

    def action_search(self) -> None:
        box = self.query_one("#queue-search", Input)
        box.value = self.filter.search
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#queue-search")
    def _narrow(self, event: Input.Changed) -> None:
        event.stop()
        if self._typed is not None:
            self._typed.stop()
        if event.input.has_class("visible") and event.value.strip() != self.filter.search:
            self._typed = self.set_timer(TYPING_PAUSE, lambda: self._search_for(event.value))
            self._searching = True
            self._update_bar()

    def _search_for(self, text: str) -> None:
        self._typed = None
        self.filter = dataclasses.replace(self.filter, search=text.strip())
        self.table.cursor = 0
        # Always off the UI thread: the next key must not wait for this one's read. The
        # selection stays: only the view narrowed.
        self._load(follow=True, background=True)

    @on(Input.Submitted, "#queue-search")
    def _apply_search(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("visible")
        self.table.focus()
        if self._typed is not None:  # Enter before the pause: read now
            self._typed.stop()
            self._typed = None
        if event.value.strip() != self.filter.search:
            self.filter = dataclasses.replace(self.filter, search=event.value.strip())
            self.table.cursor = 0
            self._load(follow=True)

    def key_escape(self) -> None:
        box = self.query_one("#queue-search", Input)
        if box.has_class("visible"):
            box.remove_class("visible")
            self.table.focus()
        elif self.table.selected:
            self.table.selected.clear()
            self.table.refresh()
            self._update_bar()

    # ------------------------------------------------------------------ looking

    def action_preview(self) -> None:
        row = self.current
        if row is None:
            return
        self.app.push_screen(DocumentScreen(preview_document(self.ctx, row.action_id)))

    def action_open_pdf(self) -> None:
        row = self.current
        if row is None:
            return
        pdf = preview_document(self.ctx, row.action_id).file
        if pdf:
            opened, said = open_in_viewer(pdf)
            self.notify(said, severity="information" if opened else "warning")
        else:
            self.notify(_("No PDF for this action"), severity="warning")
