"""Where the operator is in a list: which row of a table, kept across a reload; and
the view of a long list (its search, filters and order), as the database reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from relance.engine.casework import parse_money
from relance.kernel.display import show_amount
from relance.kernel.errors import UsageError
from relance.kernel.i18n import N_, _


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


@dataclass(frozen=True)
class View:
    """What the operator narrowed a list to, and its order. Empty values do not filter;
    `sort` names a column of the list's query ('' for the list's own order)."""

    search: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    sort: str = ""
    descending: bool = False

    def value(self, name: str) -> str:
        return dict(self.filters).get(name, "")

    def narrowed(self, values: Mapping[str, str], low: int | None, high: int | None) -> View:
        """This view with other filters (the order and search are kept)."""
        kept = tuple((k, v) for k, v in values.items() if v)
        return replace(self, filters=kept, min_amount_minor=low, max_amount_minor=high)

    @property
    def filtered(self) -> bool:
        return bool(self.search or self.filters or self.min_amount_minor is not None
                    or self.max_amount_minor is not None)


def split_search(text: str) -> tuple[str, int | None, int | None]:
    """A search's words, and the amount bounds it starts with (`>=5000 lyon`: at least
    5,000.00 in any currency, and `lyon`). A bound that is not an amount is searched
    as text."""
    match = re.match(r"\s*([<>]=?)\s*(\d[\d\s.,]*)(.*)$", text)
    if not match:
        return text.strip(), None, None
    sign, figure, rest = match.groups()
    try:
        minor = parse_money(figure.strip(), "EUR").minor
    except UsageError:
        return text.strip(), None, None
    if sign == ">":
        return rest.strip(), minor + 1, None
    if sign == ">=":
        return rest.strip(), minor, None
    return rest.strip(), None, minor - 1 if sign == "<" else minor


def parse_amount_range(text: str) -> tuple[int | None, int | None]:
    """`5000` (at least), `1000-5000`, `-200` (at most), `` (any): minor units."""
    if not text.strip():
        return None, None
    left, dash, right = text.partition("-")
    low = parse_money(left, "EUR", what=_("amount")).minor if left.strip() else None
    high = (parse_money(right, "EUR", what=_("amount")).minor
            if dash and right.strip() else None)
    return low, high


def amount_range_text(low: int | None, high: int | None) -> str:
    """The amount field of a filter form, as `parse_amount_range` reads it."""
    if low is None and high is None:
        return ""
    shown = ["" if v is None else show_amount(v, "EUR", "en").replace(",", "")
             for v in (low, high)]
    return shown[0] if high is None else f"{shown[0]}-{shown[1]}"


def describe(view: View) -> str:
    """The filters in force, in a few words (empty when none)."""
    parts = [f"{name}={value}" for name, value in view.filters if name != "only"]
    parts += bounds_and_search(view.min_amount_minor, view.max_amount_minor, view.search)
    return " ".join(parts)


def bounds_and_search(low: int | None, high: int | None, search: str) -> list[str]:
    """The amount bounds and the search text of a list's filters, as its count line
    shows them (`≥ 150,00`, `“lyon”`). A bound is in minor units of whatever currency a
    row is in, hence shown with two decimals and no currency."""
    parts = []
    if low is not None:
        parts.append(f"≥ {show_amount(low, 'EUR')}")
    if high is not None:
        parts.append(f"≤ {show_amount(high, 'EUR')}")
    if search:
        parts.append(f"“{search}”")
    return parts


@dataclass(frozen=True)
class Shown:
    """How many rows a view shows, and their amounts added up per currency."""

    count: int
    totals: dict[str, int] = field(default_factory=dict)


FILTER_LABELS = {
    "creditor": N_("Creditor"),
    "segment": N_("Segment"),
    "channel": N_("Channel"),
    "stage": N_("Stage"),
    "state": N_("State"),
    "priority": N_("Priority"),
    "operator": N_("Operator (who proposed or approved)"),
    "rule": N_("Rule (part of its name)"),
}
# Filters whose value must be one of the choices offered (the others match what exists).
CLOSED_FILTERS = ("channel", "stage", "state", "priority")

# The stages as the lists name them (the store keeps the English words).
STAGE_NAMES = {"reminder": N_("reminder"), "amicable": N_("amicable"),
               "litigation": N_("litigation")}


def stage_name(stage: str) -> str:
    return _(STAGE_NAMES[stage]) if stage in STAGE_NAMES else stage
