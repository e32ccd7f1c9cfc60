"""A table that reads its rows a page at a time, for queues of any length.

Textual's DataTable holds every row in memory and measures each cell as it is added:
fine for a debtor's invoices, not for 100,000 queued actions. `LazyTable` is a Line API
widget: it knows only the row count, renders the lines on screen, and asks its source
for the page a line falls in (kept in a small cache). Opening a queue costs one count and
one page, whatever its length; scrolling costs one page read every `page_size` rows.

Its columns share the width it has: each has a width it needs, and those that `grow`
(names, mostly) take what is left, so a wide terminal shows whole names rather than
empty space. The heading marks the column the rows are sorted on; a click on a heading
asks the screen to sort on it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
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

from relance.kernel.i18n import N_
from relance.tui.format import clip

RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Column:
    label: str
    width: int  # 0: a growing column (else the width is taken from the texts shown)
    align: Literal["left", "right"] = "left"
    sort: str = ""  # the name the list sorts this column by ('' : not sortable)
    grow: int = 0  # its share of the width left over (0: keeps `width`)

    @property
    def share(self) -> int:
        return self.grow or (0 if self.width else 1)


def column_widths(columns: list[Column], total: int, natural: list[int]) -> list[int]:
    """Each column's width in `total` cells (a cell between columns and one for the
    selection mark), given how wide their texts are (`natural`, headings included).

    A column that does not grow is as wide as its text; the growing ones (names) share
    what is left, each up to its text, the rest going to them by share, so that a row
    reaches across the screen and a name is cut only when there is no room for it."""
    fixed = [n if not c.share else 0 for c, n in zip(columns, natural, strict=True)]
    room = total - sum(fixed) - len(columns) - 1
    growing = [i for i, c in enumerate(columns) if c.share]
    widths = list(fixed)
    if not growing:
        return widths
    want = {i: max(4, natural[i]) for i in growing}
    if sum(want.values()) <= room:
        for i in growing:
            widths[i] = want[i]
        spare = room - sum(want.values())
        weight = sum(columns[i].share for i in growing)
        for i in growing:
            widths[i] += spare * columns[i].share // weight
        widths[max(growing, key=lambda i: columns[i].share)] += room - sum(
            widths[i] for i in growing)
        return widths
    # Not enough room: share it by weight, none above what its text needs, what one
    # does not need going to the others.
    left, open_ = max(4 * len(growing), room), list(growing)
    while open_:
        weight = sum(columns[i].share for i in open_)
        capped = [i for i in open_ if want[i] <= left * columns[i].share // weight]
        if not capped:
            for i in open_:
                widths[i] = max(4, left * columns[i].share // weight)
            break
        for i in capped:
            widths[i] = want[i]
            left -= want[i]
            open_.remove(i)
    return widths


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
        Binding("up,k", "cursor(-1)", N_("Up"), show=False),
        Binding("down,j", "cursor(1)", N_("Down"), show=False),
        Binding("pageup,ctrl+b", "page(-1)", N_("Page up"), show=False),
        Binding("pagedown,ctrl+f", "page(1)", N_("Page down"), show=False),
        Binding("home,g", "jump(0)", N_("Top"), show=False),
        Binding("end,G", "jump(-1)", N_("Bottom"), show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)
    sort_column: reactive[int | None] = reactive(None)
    sort_descending: reactive[bool] = reactive(False)

    class Highlighted(Message):
        """The cursor moved to another row (or the rows were reloaded)."""

        def __init__(self, table: LazyTable[Any], index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

    class HeaderClicked(Message):
        """A click on the heading of column `column` (an index into `columns`)."""

        def __init__(self, table: LazyTable[Any], column: int) -> None:
            super().__init__()
            self.table = table
            self.column = column

    def __init__(
        self,
        columns: list[Column],
        cells: Callable[[RowT], list[str]],
        key: Callable[[RowT], Hashable],
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
        self.selected: dict[Hashable, RowT] = {}
        self.fetches = 0  # pages read so far (the bench reports it)
        # The widest text seen in each column since the last load: columns widen as
        # wider rows come into view, and do not jump back and forth while scrolling.
        self._natural: list[int] = []
        self._layout: tuple[tuple[int, int], list[int]] | None = None

    # ------------------------------------------------------------------ data

    def load(self, count: int, fetch: Callable[[int, int], list[RowT]],
             *, keep_cursor: bool = True, pages: dict[int, list[RowT]] | None = None) -> None:
        """Point the table at a new result: its length and how to read a page of it.
        `pages` are pages already read with the count (by number), for the UI thread not
        to read them again."""
        self._fetch = fetch
        self._pages.clear()
        self._pages.update(pages or {})
        self._natural = []
        self._layout = None
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

    def texts_of(self, index: int) -> list[str]:
        """The cells of row `index` as shown ([] past the end)."""
        row = self.row(index)
        return [] if row is None else self._cells(row)

    def heading_text(self) -> str:
        """The headings, the sorted column marked."""
        return " ".join(self._headings())

    def texts(self) -> dict[str, list[str]]:
        """Every row's cells as shown, by key: reads the whole list (tests, short lists)."""
        found: dict[str, list[str]] = {}
        for index in range(self.row_count):
            row = self.row(index)
            if row is not None:
                found[str(self._key(row))] = self._cells(row)
        return found

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
            return
        left = 2  # the selection mark and its space
        for index, width in enumerate(self._widths(self.scrollable_content_region.width)):
            if left <= event.x < left + width:
                self.post_message(self.HeaderClicked(self, index))
                return
            left += width + 1

    def watch_sort_column(self) -> None:
        self._layout = None
        self.refresh()

    def watch_sort_descending(self) -> None:
        self._layout = None
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def _widths(self, total: int) -> list[int]:
        top = round(self.scroll_y)
        if self._layout is not None and self._layout[0] == (total, top):
            return self._layout[1]
        natural = self._natural or [len(h) for h in self._headings()]
        for index in range(top, min(self.row_count, top + self._body_height)):
            row = self.row(index)
            if row is not None:
                natural = [max(n, len(t)) for n, t in zip(natural, self._cells(row),
                                                          strict=False)]
        self._natural = natural
        widths = column_widths(self.columns, total, natural)
        self._layout = ((total, top), widths)
        return widths

    def _line(self, texts: list[str], widths: list[int], mark: str) -> str:
        parts = [mark]
        for text, width, column in zip(texts, widths, self.columns, strict=False):
            cell = clip(text, width)
            if column.align == "right" and len(text) <= width:
                cell = text.rjust(width)
            parts.append(cell)
        return " ".join(parts)

    def _headings(self) -> list[str]:
        labels = [c.label for c in self.columns]
        if self.sort_column is not None and 0 <= self.sort_column < len(labels):
            arrow = "▼" if self.sort_descending else "▲"
            labels[self.sort_column] = f"{labels[self.sort_column]} {arrow}"
        return labels

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        base = self.rich_style
        if y == 0:
            header = self._line(self._headings(), widths, " ")
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
