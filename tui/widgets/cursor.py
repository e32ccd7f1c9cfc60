"""Which row of a table the operator is on."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def highlighted_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, or None on an empty table."""
    if not 0 <= table.cursor_row < table.row_count:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return str(key) if key is not None else None
