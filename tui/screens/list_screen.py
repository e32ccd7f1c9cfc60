"""The desk's list screens (queue, escalations, calls, suspense) are one shape: the mode
bar, a list, a panel about the row under the cursor, the footer. `ListScreen` is that
shape; `WholeListScreen` adds the list read whole into a table at each reload, for the
lists of a day's work (hundreds of rows). The queue, which can hold a hundred thousand
actions, keeps its own paged table under the same frame.

The lists follow the store: the app reloads the screen on show when anything was
committed (`LIVE`), and a reload leaves the cursor on the row it was on wherever that
row still is."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from sqlalchemy.orm import Session
from textual import on
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static

from relance.tui.screens.base import DeskScreen
from relance.tui.widgets.cursor import highlighted_key, restore_cursor
from relance.tui.widgets.mode_bar import ModeBar

RowT = TypeVar("RowT")


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
        return self.EMPTY

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
            self.notify(self.NO_CASE)


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
        table.add_columns(*self.COLUMNS)
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
