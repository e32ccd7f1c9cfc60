"""The queue: proposed actions grouped by debtor, filtered, previewed, approved or rejected.

Approving sends nothing: `relance dispatch` does. Decisions bind to what the operator saw
(state and content hash); an action someone else decided meanwhile is reported. The
queue follows the store: what is committed anywhere shows at the next poll, the cursor
staying on its action.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input, Static

from relance.engine import casework
from relance.engine.casework import BulkResult, Seen
from relance.kernel.errors import UsageError
from relance.store.models import ActionState
from relance.tui import data, format
from relance.tui.preview import preview_text
from relance.tui.screens.list_screen import ListScreen
from relance.tui.screens.modals import ConfirmScreen, Field, FormScreen, TextScreen
from relance.tui.widgets.lazy_table import Column, LazyTable

# Above this many actions a bulk decision runs off the UI thread, in chunks.
BACKGROUND_BULK = 1000
BULK_CHUNK = 500


def _cells(row: data.QueueRow) -> list[str]:
    return [f"{row.debtor_name} ({row.debtor_ref})", row.channel.value, row.rule,
            str(row.invoices), format.amount(row.amount_minor, row.currency),
            row.state.value]


QUEUE_COLUMNS = [
    Column("Debtor", 0),
    Column("Chan.", 6),
    Column("Rule", 18),
    Column("Inv", 3, "right"),
    Column("Amount", 11, "right"),
    Column("State", 8),
]


class QueueTable(LazyTable[data.QueueRow]):
    pass


class QueueScreen(ListScreen[data.QueueRow]):
    """Proposed actions of the latest runs, by debtor."""

    TITLE = "Queue"
    NAME = "queue"
    ID_PREFIX = "queue"
    DETAIL_LINES = 4
    DEFAULT_CSS = """
    #queue-bar { height: 1; background: $boost; padding: 0 1; }
    #queue-search { dock: bottom; display: none; }
    #queue-search.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("r", "reject", "Reject"),
        Binding("space", "select", "Select", show=False),
        Binding("A", "approve_all", "All"),
        Binding("R", "reject_all", "Reject all", show=False),
        Binding("f", "filters", "Filter"),
        Binding("slash", "search", "Search"),
        Binding("x", "clear", "Clear", show=False),
        Binding("enter,p", "preview", "Preview"),
        Binding("o", "open_pdf", "PDF", show=False),
        Binding("c", "case", "Case", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = data.QueueFilter()
        self._opened = False

    def compose_above(self) -> Iterable[Widget]:
        yield Static("", id="queue-bar")

    def make_table(self) -> Widget:
        return QueueTable(QUEUE_COLUMNS, _cells, key=lambda r: r.action_id,
                          group=lambda r: r.debtor_id, group_columns=1, id="queue-table")

    def compose_below(self) -> Iterable[Widget]:
        yield Input(placeholder="search a debtor, a reference or an invoice number; "
                    "Enter to apply, Esc to leave", id="queue-search")

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

    def _load(self, *, follow: bool) -> None:
        """Read the queue again. After a decision or a new filter the selection is
        cleared; when following others' changes it is kept (a selected action changed
        meanwhile is refused when decided, as always) and the cursor stays on its action."""
        flt = self.filter
        store = self.ctx.store
        today = self.ctx.today
        table = self.table
        was = table.current if follow else None

        # The last row of each page read: the next page continues from it (keyset)
        # rather than counting its offset again, which grows with the depth.
        ends: dict[int, tuple[int, int]] = {}

        def fetch(offset: int, limit: int) -> list[data.QueueRow]:
            with store.session() as session:
                rows = data.queue_page(session, flt, offset, limit, after=ends.get(offset),
                                       total=count, paused=paused)
            if len(rows) == limit:
                ends[offset + limit] = (rows[-1].debtor_id, rows[-1].action_id)
            return rows

        with self.ctx.reading() as session:
            # Read once for the count and every page of this reload.
            paused = data.Paused.read(session, today)
            count = data.count_queue(session, flt, paused=paused)
            if count == 0 and not self._opened and flt == data.QueueFilter():
                # With [run] auto_approve nothing waits: show what dispatch will send.
                approved = dataclasses.replace(flt, state=ActionState.APPROVED.value)
                waiting = data.count_queue(session, approved, paused=paused)
                if waiting:
                    self.filter, flt, count = approved, approved, waiting
                    self.notify("Nothing waits for approval; showing the approved actions "
                                "dispatch will send (r rejects one before it goes).")
        self._opened = True
        if not follow:
            table.selected.clear()
        table.load(count, fetch)
        if was is not None:
            self._find_again(was, paused)
        self._update_bar()

    def _find_again(self, was: data.QueueRow, paused: data.Paused) -> None:
        """Back on the action the cursor was on, if rows before it came or went."""
        table = self.table
        now = table.current
        if now is not None and now.action_id == was.action_id:
            return
        with self.ctx.reading() as session:
            position = data.queue_position(session, self.filter, was.debtor_id,
                                           was.action_id, paused=paused)
        if position is not None:
            table.cursor = position

    def _update_bar(self) -> None:
        table = self.table
        selected = f" · {len(table.selected)} selected" if table.selected else ""
        self.query_one("#queue-bar", Static).update(
            f"{table.row_count:,} actions{selected} · {self.filter.describe()}".replace(",", " ")
        )

    @on(LazyTable.Highlighted)
    def _highlighted(self, event: LazyTable.Highlighted) -> None:
        if event.index == self.table.cursor:
            # Not for each row passed while a key is held down: only the row the cursor
            # rests on is worth a read.
            self.show_detail()

    def empty_text(self) -> str:
        if self.filter != data.QueueFilter():
            return "Nothing to review with these filters (x clears them)."
        return ("Nothing waits for a decision. `relance run` queues the day's actions; "
                "f shows other states.")

    def detail(self, row: data.QueueRow) -> str:
        with self.ctx.reading() as session:
            info = data.action_detail(session, row.action_id)
        if info is None:
            return ""
        lines = " · ".join(
            f"{line.number} {format.amount(line.balance_minor, line.currency)} "
            f"due {format.short_day(line.due_date)}"
            + (f" (dropped: {line.drop_reason})" if line.drop_reason else "")
            for line in info.lines[:4])
        more = f" +{len(info.lines) - 4}" if len(info.lines) > 4 else ""
        first = info.lines[0] if info.lines else None
        rule = (f"{first.rule} ({first.rule_file}:{first.rule_line})" if first else "—")
        return (
            f"[b]{escape(info.debtor.name)}[/b] {escape(info.debtor.ref)} · {info.creditor.code} · "
            f"{info.debtor.segment} · #{info.action.id} {info.action.channel.value} "
            f"{info.action.template or ''}\n{lines}{more}\n"
            f"{rule} · rules {info.ruleset}"
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
        self.filter = data.QueueFilter()
        self.reload()

    # ------------------------------------------------------------------ deciding

    def _report(self, verb: str, result: BulkResult) -> None:
        message = f"{verb} {len(result.done)}"
        if result.skipped:
            message += f" ({len(result.skipped)} not proposed, left as they were)"
        if result.conflicts:
            message += (f"; {len(result.conflicts)} left as they were, changed by someone "
                        f"else meanwhile (first: {result.conflicts[0].message})")
        if result.refused:
            message += (f"; {len(result.refused)} refused (first: {result.refused[0][1]})")
        if result.conflicts or result.refused:
            self.notify(message, severity="warning", timeout=10)
        else:
            self.notify(message)

    def _decide(self, targets: list[Seen], reason: str | None) -> None:
        ctx = self.ctx
        if len(targets) > BACKGROUND_BULK:
            self.notify(f"Working on {len(targets):,} actions…".replace(",", " "))
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
            self._report("Approved" if reason is None else "Rejected", result)

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
        self.app.call_from_thread(self._report, "Approved" if reason is None else "Rejected",
                                  total)
        self.app.call_from_thread(self.reload)

    def action_approve(self) -> None:
        targets = self._targets()
        if targets:
            self._decide(targets, None)

    def _ask_reason(self, targets: list[Seen], title: str) -> None:
        if not self.may_write():
            return
        def check(answers: dict[str, str]) -> str | None:
            return None if answers["reason"] else "A rejection needs a reason."

        def then(answers: dict[str, str] | None) -> None:
            if answers:
                self._decide(targets, answers["reason"])

        self.app.push_screen(FormScreen(title, [Field("reason", "Reason")], check), then)

    def action_reject(self) -> None:
        targets = self._targets()
        if targets:
            noun = "action" if len(targets) == 1 else "actions"
            self._ask_reason(targets, f"Reject {len(targets)} {noun}")

    def _all_filtered(self) -> list[Seen]:
        with self.ctx.reading() as session:
            return data.seen_for_filter(session, self.filter, today=self.ctx.today)

    def action_approve_all(self) -> None:
        if not self.may_write():
            return
        targets = self._all_filtered()
        if not targets:
            return

        def then(yes: bool | None) -> None:
            if yes:
                self._decide(targets, None)

        count = f"{len(targets):,}".replace(",", " ")
        self.app.push_screen(ConfirmScreen(
            f"Approve all {count} actions shown ({self.filter.describe()})?\n"
            "Nothing is sent until dispatch runs."), then)

    def action_reject_all(self) -> None:
        targets = self._all_filtered()
        if targets:
            self._ask_reason(targets, f"Reject all {len(targets)} actions shown")

    # ------------------------------------------------------------------ filtering

    def action_filters(self) -> None:
        flt = self.filter
        with self.ctx.reading() as session:
            choices = data.filter_choices(session)

        def shown(minor: int | None) -> str:
            return "" if minor is None else format.amount(minor).replace(" ", "")

        fields = [
            Field("creditor", "Creditor (" + ", ".join(choices["creditor"][:6]) + ")",
                  flt.creditor),
            Field("channel", "Channel (" + ", ".join(choices["channel"]) + ")", flt.channel),
            Field("rule", "Rule (part of its name)", flt.rule),
            Field("segment", "Segment (" + ", ".join(choices["segment"][:6]) + ")",
                  flt.segment),
            Field("stage", "Stage (reminder, amicable, litigation)", flt.stage),
            Field("state", "State (" + ", ".join(choices["state"]) + ")", flt.state),
            Field("amount", "Amount: min-max, e.g. 1000-5000 or 1000-",
                  f"{shown(flt.min_amount_minor)}-{shown(flt.max_amount_minor)}"
                  if flt.min_amount_minor is not None or flt.max_amount_minor is not None
                  else ""),
        ]

        def parse(answers: dict[str, str]) -> data.QueueFilter:
            low = high = None
            if answers["amount"]:
                left, _, right = answers["amount"].partition("-")
                low = casework.parse_money(left, "EUR").minor if left.strip() else None
                high = casework.parse_money(right, "EUR").minor if right.strip() else None
            for name, allowed in (("channel", choices["channel"]),
                                  ("state", choices["state"]),
                                  ("stage", ["reminder", "amicable", "litigation"])):
                if answers[name] and answers[name] not in allowed:
                    raise UsageError(f"{name} must be one of {', '.join(allowed)}")
            return dataclasses.replace(
                flt, creditor=answers["creditor"], channel=answers["channel"],
                rule=answers["rule"], segment=answers["segment"], stage=answers["stage"],
                state=answers["state"], min_amount_minor=low, max_amount_minor=high)

        def apply(chosen: data.QueueFilter) -> None:
            self.filter = chosen
            self.reload()

        # Filtering only reads: an auditor may do it too.
        self.ask("Filter the queue", fields, parse, apply, writes=False)

    def action_search(self) -> None:
        box = self.query_one("#queue-search", Input)
        box.value = self.filter.search
        box.add_class("visible")
        box.focus()

    @on(Input.Submitted, "#queue-search")
    def _apply_search(self, event: Input.Submitted) -> None:
        event.stop()
        self.filter = dataclasses.replace(self.filter, search=event.value.strip())
        event.input.remove_class("visible")
        self.table.focus()
        self.reload()

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
        title, body, pdf = preview_text(self.ctx, row.action_id)
        opener = (lambda: self._open(pdf)) if pdf else None
        self.app.push_screen(TextScreen(title, body, open_file=opener))

    def _open(self, path: str) -> str:
        self.app.open_url(f"file://{path}")
        return f"Opening {path}"

    def action_open_pdf(self) -> None:
        row = self.current
        if row is None:
            return
        _title, _body, pdf = preview_text(self.ctx, row.action_id)
        if pdf:
            self.notify(self._open(pdf))
        else:
            self.notify("No PDF for this action", severity="warning")
