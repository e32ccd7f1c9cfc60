"""A table that reads its rows a page at a time, for queues of any length.

Textual's DataTable holds every row in memory and measures each cell as it is added:
fine for a debtor's invoices, not for 100,000 queued actions. `LazyTable` is a Line API
widget: it knows only the row count, renders the lines on screen, and asks its source
for the page a line falls in (kept in a small cache). Opening a queue costs one count and
one page, whatever its length; scrolling costs one page read every `page_size` rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from relance.tui.format import clip

RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Column:
    label: str
    width: int  # 0: takes what the other columns leave
    align: Literal["left", "right"] = "left"


class LazyTable(ScrollView, Generic[RowT], can_focus=True):
    """Rows fetched on demand; a cursor, a selection of keys, and repeated groups blanked."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "lazy-table--header",
        "lazy-table--cursor",
        "lazy-table--selected",
    }
    DEFAULT_CSS = """
    LazyTable {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
    }
    LazyTable > .lazy-table--header { text-style: bold; color: $text-accent; }
    LazyTable > .lazy-table--cursor { background: $block-cursor-blurred-background; }
    LazyTable:focus > .lazy-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    LazyTable > .lazy-table--selected { color: $text-warning; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved to another row (or the rows were reloaded)."""

        def __init__(self, table: LazyTable[Any], index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

    def __init__(
        self,
        columns: list[Column],
        cells: Callable[[RowT], list[str]],
        key: Callable[[RowT], int],
        *,
        group: Callable[[RowT], object] | None = None,
        group_columns: int = 0,
        page_size: int = 100,
        cache_pages: int = 20,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = columns
        self._cells = cells
        self._key = key
        self._group = group
        self._group_columns = group_columns
        self.page_size = page_size
        self._cache_pages = cache_pages
        self._pages: OrderedDict[int, list[RowT]] = OrderedDict()
        self._fetch: Callable[[int, int], list[RowT]] = lambda offset, limit: []
        self.row_count = 0
        self.selected: dict[int, RowT] = {}
        self.fetches = 0  # pages read so far (the bench reports it)

    # ------------------------------------------------------------------ data

    def load(self, count: int, fetch: Callable[[int, int], list[RowT]],
             *, keep_cursor: bool = True) -> None:
        """Point the table at a new result: its length and how to read a page of it."""
        self._fetch = fetch
        self._pages.clear()
        self.row_count = count
        self.virtual_size = Size(0, count + 1)  # +1: the header line
        cursor = self.cursor if keep_cursor else 0
        self.cursor = max(0, min(cursor, count - 1))
        self.refresh()

    def row(self, index: int) -> RowT | None:
        if not 0 <= index < self.row_count:
            return None
        number, within = divmod(index, self.page_size)
        page = self._pages.get(number)
        if page is None:
            page = self._fetch(number * self.page_size, self.page_size)
            self.fetches += 1
            self._pages[number] = page
            while len(self._pages) > self._cache_pages:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(number)
        return page[within] if within < len(page) else None

    @property
    def current(self) -> RowT | None:
        return self.row(self.cursor)

    def toggle_selected(self) -> None:
        row = self.current
        if row is None:
            return
        key = self._key(row)
        if self.selected.pop(key, None) is None:
            self.selected[key] = row
        self.refresh()

    # ------------------------------------------------------------------ moving

    @property
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def watch_cursor(self, value: int) -> None:
        top = round(self.scroll_y)
        if value < top:
            self.scroll_to(y=value, animate=False, force=True)
        elif value >= top + self._body_height:
            self.scroll_to(y=value - self._body_height + 1, animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self, value))

    def _move_to(self, index: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(index, self.row_count - 1))

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * self._body_height)

    def action_jump(self, where: int) -> None:
        self._move_to(where if where >= 0 else self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_to(round(self.scroll_y) + event.y - 1)

    # ------------------------------------------------------------------ drawing

    def _widths(self, total: int) -> list[int]:
        fixed = sum(c.width for c in self.columns if c.width) + len(self.columns) + 1
        flexible = [c for c in self.columns if not c.width]
        spare = max(8, total - fixed) // max(1, len(flexible))
        return [c.width or spare for c in self.columns]

    def _line(self, texts: list[str], widths: list[int], mark: str) -> str:
        parts = [mark]
        for text, width, column in zip(texts, widths, self.columns, strict=False):
            cell = clip(text, width)
            if column.align == "right" and len(text) <= width:
                cell = text.rjust(width)
            parts.append(cell)
        return " ".join(parts)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        base = self.rich_style
        if y == 0:
            header = self._line([c.label for c in self.columns], widths, " ")
            head_style = base + self.get_component_rich_style("lazy-table--header")
            return Strip([Segment(header, head_style)]).adjust_cell_length(width, head_style)
        index = round(self.scroll_y) + y - 1
        row = self.row(index)
        if row is None:
            return Strip([Segment(" " * width, base)], width)
        texts = self._cells(row)
        if self._group is not None and index > 0:
            previous = self.row(index - 1)
            if previous is not None and self._group(previous) == self._group(row):
                texts = ["" if i < self._group_columns else t for i, t in enumerate(texts)]
        selected = self._key(row) in self.selected
        text = self._line(texts, widths, "●" if selected else " ")
        style: Style = base
        if selected:
            style += self.get_component_rich_style("lazy-table--selected")
        if index == self.cursor:
            style += self.get_component_rich_style("lazy-table--cursor")
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)
