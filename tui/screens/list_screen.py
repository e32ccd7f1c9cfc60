"""The desk's list screens (queue, escalations, calls, cases, suspense) are one shape: the
mode bar, a list, a panel about the row under the cursor, the footer. `ListScreen` is
that shape; `WholeListScreen` adds the list read whole into a table at each reload, for
short lists (payments in suspense). `PagedListScreen` is the list of thousands of rows:
read a page at a time, searched as one types, filtered and sorted by the database, with
a line counting what is shown and adding up its amounts per currency.

The lists follow the store: the app reloads the screen on show when anything was
committed (`LIVE`), and a reload leaves the cursor on the row it was on wherever that
row still is."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static

from relance.kernel.display import show_money
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _
from relance.tui import worklists
from relance.tui.screens.base import DeskScreen
from relance.tui.screens.modals import Field
from relance.tui.widgets.cursor import (
    CLOSED_FILTERS,
    FILTER_LABELS,
    Shown,
    View,
    amount_range_text,
    describe,
    highlighted_key,
    parse_amount_range,
    restore_cursor,
)
from relance.tui.widgets.lazy_table import Column, LazyTable
from relance.tui.widgets.mode_bar import ModeBar
from relance.tui.worklists import SqlList

RowT = TypeVar("RowT")


def translate_bindings(node: DOMNode) -> None:
    """The footer's key descriptions in the language spoken when the screen opens (the
    class's bindings are written once, in English, marked with N_)."""
    keys = node._bindings.key_to_bindings
    for key, bindings in keys.items():
        keys[key] = [replace(b, description=_(b.description)) if b.description else b
                     for b in bindings]


class ListScreen(DeskScreen, Generic[RowT]):
    """A list, and a panel saying more about the row under the cursor.

    Widget ids are `<ID_PREFIX>-table` and `<ID_PREFIX>-detail`; the panel is
    `DETAIL_LINES` high."""

    LIVE = True
    DEFAULT_CSS = """
    ListScreen .list-table { height: 1fr; }
    ListScreen .list-detail { border-top: solid $primary; padding: 0 1; }
    """
    NAME: ClassVar[str]  # the screen's mode, as the mode bar names it
    ID_PREFIX: ClassVar[str]
    DETAIL_LINES: ClassVar[int] = 4  # the panel's height, its top border included
    EMPTY: ClassVar[str] = ""  # what the panel says when the list is empty
    NO_CASE: ClassVar[str] = ""  # why the row under the cursor has no case to open

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        yield ModeBar(self.NAME)
        yield from self.compose_above()
        table = self.make_table()
        table.add_class("list-table")
        yield table
        panel = Static("", id=f"{self.ID_PREFIX}-detail", classes="list-detail")
        panel.styles.height = self.DETAIL_LINES
        yield panel
        yield from self.compose_below()
        yield Footer(compact=True)

    def compose_above(self) -> Iterable[Widget]:
        """Widgets between the mode bar and the list."""
        return ()

    def compose_below(self) -> Iterable[Widget]:
        """Widgets between the panel and the footer."""
        return ()

    @abstractmethod
    def make_table(self) -> Widget:
        """The list widget, with the id `<ID_PREFIX>-table`."""

    @property
    @abstractmethod
    def table(self) -> Widget: ...

    @property
    @abstractmethod
    def current(self) -> RowT | None:
        """The row under the cursor, or None on an empty list."""

    def on_mount(self) -> None:
        self.table.focus()

    def detail(self, row: RowT) -> str:
        """The panel's text (console markup) for the row under the cursor."""
        return ""

    def empty_text(self) -> str:
        return _(self.EMPTY) if self.EMPTY else ""

    def show_detail(self) -> None:
        row = self.current
        self.query_one(f"#{self.ID_PREFIX}-detail", Static).update(
            self.empty_text() if row is None else self.detail(row))

    def debtor_of(self, row: RowT) -> int | None:
        """The debtor whose case the row belongs to (None: no debtor known yet)."""
        return None

    def action_case(self) -> None:
        """Open the case of the row under the cursor."""
        row = self.current
        if row is None:
            return
        debtor_id = self.debtor_of(row)
        if debtor_id is not None:
            self.desk.open_case(debtor_id)
        elif self.NO_CASE:
            self.notify(_(self.NO_CASE))


class WholeListScreen(ListScreen[RowT]):
    """A list read whole at each reload into a table: a row per item, keyed by its id."""

    COLUMNS: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, RowT] = {}

    @abstractmethod
    def read(self, session: Session) -> list[RowT]:
        """The list as the store has it now, in the order shown."""

    @abstractmethod
    def key(self, row: RowT) -> int:
        """The row's id: it keeps the cursor on the row across reloads."""

    @abstractmethod
    def cells(self, row: RowT) -> list[str | Text]:
        """The row's cells, one per column of COLUMNS."""

    def make_table(self) -> Widget:
        table: DataTable[str | Text] = DataTable(id=f"{self.ID_PREFIX}-table",
                                                 cursor_type="row", zebra_stripes=True)
        table.add_columns(*(_(label) for label in self.COLUMNS))
        return table

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one(f"#{self.ID_PREFIX}-table", DataTable)

    def reload(self) -> None:
        self.fill()

    def fill(self) -> None:
        """Read the list again, the cursor staying on its row (or the next one down)."""
        with self.ctx.reading() as session:
            rows = self.read(session)
        table = self.table
        key, keep = highlighted_key(table), table.cursor_row
        table.clear()
        self.rows = {self.key(row): row for row in rows}
        for row in rows:
            table.add_row(*self.cells(row), key=str(self.key(row)))
        restore_cursor(table, key, keep)
        self.show_detail()

    @property
    def current(self) -> RowT | None:
        key = highlighted_key(self.table)
        return self.rows.get(int(key)) if key and self.rows else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_detail()


# --------------------------------------------------------------------------- paged lists

class PagedListScreen(ListScreen[RowT]):
    """A list read a page at a time (`LazyTable`): `/` searches as one types, `f` opens
    the filter form, `s` sorts on the next column (`S` the other way; a click on a
    heading sorts on it), `x` clears; a line above the list says how many rows are shown
    of how many, and what they add up to per currency.

    A search may start with an amount bound (`>=5000`, `<100`): an escalation above a
    threshold is then three keys and a figure away."""

    COLUMNS: ClassVar[list[Column]]
    FILTERS: ClassVar[tuple[str, ...]] = ()
    DEFAULT_CSS = """
    PagedListScreen .list-bar { height: 1; background: $boost; padding: 0 1; }
    PagedListScreen .list-search { dock: bottom; display: none; }
    PagedListScreen .list-search.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", N_("Search")),
        Binding("f", "filters", N_("Filter")),
        Binding("s", "sort", N_("Sort")),
        Binding("S", "reverse", N_("Reverse"), show=False),
        Binding("x", "clear", N_("Clear"), show=False),
    ]

    def __init__(self) -> None:
        self.view = View()
        self.total = 0  # rows without any filter, read again when the store changes
        self.shown = Shown(0)
        super().__init__()

    # ------------------------------------------------------------------ what a list reads

    @abstractmethod
    def read_shown(self, session: Session, view: View) -> Shown:
        """How many rows `view` shows and their totals."""

    @abstractmethod
    def read_page(self, session: Session, view: View, offset: int, limit: int) -> list[RowT]:
        """Rows `offset` to `offset + limit` of `view`."""

    @abstractmethod
    def read_position(self, session: Session, view: View, row: RowT) -> int | None:
        """Where `row` now stands in `view` (None: it left it)."""

    @abstractmethod
    def row_key(self, row: RowT) -> Hashable: ...

    @abstractmethod
    def cells(self, row: RowT) -> list[str]: ...

    @abstractmethod
    def shown_text(self, shown: int, total: int) -> str:
        """“12 escalations shown of 96”, counted in the list's own words."""

    def filter_choices(self, session: Session) -> dict[str, list[str]]:
        return {}  # the values the filter form offers for each of FILTERS

    @contextmanager
    def list_session(self) -> Iterator[Session]:
        """Where the list is read from."""
        with self.ctx.reading() as session:
            yield session

    def prepare(self, session: Session) -> None:
        """Before the reads that follow a change of the store (or the screen's opening)."""

    # ------------------------------------------------------------------ the frame

    def compose_above(self) -> Iterable[Widget]:
        yield Static("", id=f"{self.ID_PREFIX}-bar", classes="list-bar")

    def compose_below(self) -> Iterable[Widget]:
        yield Input(placeholder=_("search: part of a name or reference, or >=5000 for an "
                                  "amount; Enter keeps it, Esc leaves"),
                    id=f"{self.ID_PREFIX}-search", classes="list-search")

    def make_table(self) -> Widget:
        columns = [replace(c, label=_(c.label)) for c in self.COLUMNS]
        return LazyTable(columns, self.cells, self.row_key, id=f"{self.ID_PREFIX}-table")

    @property
    def table(self) -> LazyTable[RowT]:
        return self.query_one(f"#{self.ID_PREFIX}-table", LazyTable)

    @property
    def current(self) -> RowT | None:
        return self.table.current

    def reload(self) -> None:
        self._load(follow=False, recount=True)

    def follow_changes(self) -> None:  # the cursor stays on its row
        self._load(follow=True, recount=True)

    def show_view(self, view: View) -> None:
        """Show the list narrowed or sorted another way (the cursor back at the top)."""
        self.view = view
        self.table.cursor = 0
        self._load(follow=False, recount=False)

    def _load(self, *, follow: bool, recount: bool) -> None:
        table = self.table
        was = table.current if follow else None
        view = self.view

        def fetch(offset: int, limit: int) -> list[RowT]:
            with self.list_session() as session:
                return self.read_page(session, view, offset, limit)

        with self.list_session() as session:
            if recount:
                self.prepare(session)
            self.shown = self.read_shown(session, view)
            if recount or not view.filtered:
                self.total = (self.read_shown(session, View()).count if view.filtered
                              else self.shown.count)
        table.load(self.shown.count, fetch)
        if was is not None and table.current is not None \
                and self.row_key(table.current) != self.row_key(was):
            with self.list_session() as session:
                position = self.read_position(session, view, was)
            if position is not None:
                table.cursor = position
        self._show_sort()
        self.update_bar()
        self.show_detail()

    def _show_sort(self) -> None:
        table = self.table
        sorts = [c.sort for c in self.COLUMNS]
        table.sort_column = sorts.index(self.view.sort) if self.view.sort else None
        table.sort_descending = self.view.descending

    def bar_text(self) -> str:
        shown = self.shown
        parts = [self.shown_text(shown.count, self.total)]
        parts += [show_money(v, c) for c, v in sorted(shown.totals.items()) if c]
        described = describe(self.view)
        if described:
            parts.append(described)
        return " · ".join(parts)

    def update_bar(self) -> None:
        self.query_one(f"#{self.ID_PREFIX}-bar", Static).update(Text(self.bar_text()))

    @on(LazyTable.Highlighted)
    def _highlighted(self, event: LazyTable.Highlighted) -> None:
        if event.index == self.table.cursor:
            # Only the row the cursor rests on is worth a read, not each one passed.
            self.show_detail()

    # ------------------------------------------------------------------ searching

    def action_search(self) -> None:
        box = self.query_one(f"#{self.ID_PREFIX}-search", Input)
        box.value = self.view.search
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, ".list-search")
    def _narrow(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.has_class("visible") and event.value.strip() != self.view.search:
            self.show_view(replace(self.view, search=event.value.strip()))

    @on(Input.Submitted, ".list-search")
    def _keep_search(self, event: Input.Submitted) -> None:
        event.stop()
        self._leave_search()

    def _leave_search(self) -> None:
        box = self.query_one(f"#{self.ID_PREFIX}-search", Input)
        box.remove_class("visible")
        self.table.focus()

    def key_escape(self) -> None:
        self._leave_search()

    def empty_text(self) -> str:
        # An empty list under a search or filters says so, not that there is no work.
        if describe(self.view):
            return _("Nothing matches {what}: x clears the search and the filters.").format(
                what=describe(self.view))
        return super().empty_text()

    def action_clear(self) -> None:
        self.show_view(View(sort=self.view.sort, descending=self.view.descending))

    # ------------------------------------------------------------------ sorting

    def action_sort(self) -> None:
        """The next sortable column, then the list's own order again."""
        sorts = [c.sort for c in self.COLUMNS if c.sort]
        now = sorts.index(self.view.sort) + 1 if self.view.sort in sorts else 0
        self._sort_on(sorts[now] if now < len(sorts) else "")

    def _sort_on(self, name: str) -> None:
        column = next((c for c in self.COLUMNS if c.sort == name), None)
        # Amounts and counts read best largest first; names and dates from the start.
        descending = column is not None and column.align == "right"
        self.show_view(replace(self.view, sort=name, descending=descending))

    def action_reverse(self) -> None:
        if self.view.sort:
            self.show_view(replace(self.view, descending=not self.view.descending))

    @on(LazyTable.HeaderClicked)
    def _heading(self, event: LazyTable.HeaderClicked) -> None:
        name = self.COLUMNS[event.column].sort
        if name and name == self.view.sort:
            self.action_reverse()
        elif name:
            self._sort_on(name)

    # ------------------------------------------------------------------ filtering

    def action_filters(self) -> None:
        view = self.view
        with self.ctx.reading() as session:
            choices = self.filter_choices(session)
        fields = [Field("amount", _("Amount: at least, or min-max (5000, 1000-5000, -200)"),
                        amount_range_text(view.min_amount_minor, view.max_amount_minor))]
        for name in self.FILTERS:
            offered = choices.get(name, [])
            label = _(FILTER_LABELS[name])
            if offered:
                label = _("{label} ({choices})").format(
                    label=label, choices=", ".join(offered[:6]))
            fields.append(Field(name, label, view.value(name)))

        def parse(answers: dict[str, str]) -> View:
            for name in CLOSED_FILTERS:
                allowed = choices.get(name, [])
                if answers.get(name) and allowed and answers[name] not in allowed:
                    raise UsageError(_("{name} must be one of {choices}").format(
                        name=_(FILTER_LABELS[name]), choices=", ".join(allowed)))
            low, high = parse_amount_range(answers["amount"])
            return view.narrowed({n: answers[n] for n in self.FILTERS}, low, high)

        # Filtering only reads: an auditor may do it too.
        self.ask(_("Filter the list"), fields, parse, self.show_view, writes=False)


class SqlListScreen(PagedListScreen[RowT]):
    """A paged list whose rows are one query of `worklists` (an `SqlList`), held in
    memory by the screen and brought up to date when the store changes; each key then
    works on the rows in memory (see `SqlList.snapshot`)."""

    def __init__(self) -> None:
        super().__init__()
        self._list: SqlList[RowT] | None = None

    @abstractmethod
    def sql_list(self) -> SqlList[RowT]:
        """The list's query, as of the desk's day."""

    @property
    def rows_list(self) -> SqlList[RowT]:
        if self._list is None or self._list.today != self.ctx.today:
            self._list = self.sql_list()
        return self._list

    def prepare(self, session: Session) -> None:
        # Every column's order is worked out with the rows: a sort is then a key like
        # any other.
        self.rows_list.snapshot(session, [c.sort for c in self.COLUMNS if c.sort])

    def read_shown(self, session: Session, view: View) -> Shown:
        return self.rows_list.shown(session, view)

    def read_page(self, session: Session, view: View, offset: int, limit: int) -> list[RowT]:
        return self.rows_list.page(session, view, offset, limit)

    def read_position(self, session: Session, view: View, row: RowT) -> int | None:
        key = self.row_key(row)
        return self.rows_list.position(session, view, key) if isinstance(key, int) else None

    def filter_choices(self, session: Session) -> dict[str, list[str]]:
        return worklists.filter_choices(session, self.ctx.creditor_ids)
