"""Which row of a table the operator is on, and keeping it there across a reload."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


def highlighted_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, or None on an empty table."""
    if not 0 <= table.cursor_row < table.row_count:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return str(key) if key is not None else None


def restore_cursor(table: DataTable[Any], key: str | None, row: int) -> None:
    """After refilling `table`: back on the row keyed `key` if it is still there, else
    on the row now at position `row` (the next one down), kept within the table."""
    if not table.row_count:
        return
    if key is not None and RowKey(key) in table.rows:
        table.move_cursor(row=table.get_row_index(key))
        return
    table.move_cursor(row=min(max(row, 0), table.row_count - 1))
