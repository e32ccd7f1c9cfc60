"""A long list held in memory, so that each key on it costs well under 50 ms at
100,000 rows: searching, filtering, sorting, counting, adding up and paging.

The database is read when the list opens and, after a commit, only for the rows of the
debtors the new events name (`touched_debtors`); every key then works on the rows in
memory. Doing the same in SQL cost a pass over the rows per key (a count, the totals,
then a sort for the page: 0.1 to 0.7 s at 100,000 rows).

What keeps each key fast is that the per-row work runs inside the interpreter's own
loops, never in a Python loop over the rows:

- a filter is a `bytearray` mask (1 per row kept) built by `map` over a column, and
  masks combine as big integers (`&`, `|`);
- a count is `mask.count(1)`, a total `sum(compress(amounts, mask))`;
- each sort order is computed once (when the rows are read) and kept; a filtered view
  in that order is `compress(order, …)`; the reverse order is that list reversed;
- a changed debtor's rows leave each kept order by one mask pass and come back by a
  binary search each, rather than the order being sorted again.

Where a key narrows what an earlier one found (one more letter typed), only the rows
that earlier key kept are looked at again, when they are few: those are reached with
`bytearray.find`, which jumps over the rest in C. A search in several columns looks in
the next column only among the rows the ones before did not match. The totals of the
whole list are kept until the rows change.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from itertools import compress, repeat
from typing import Any, Generic, TypeVar, cast

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SEPARATOR = "\x1f"  # between the texts a search looks into (never typed)
FOLDED = "~"  # before a column's name: its texts in small letters (a search's own key)
FEW = 8  # a mask keeping under 1/FEW of the rows is walked row by row, not mapped whole
_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def _and(masks: Sequence[bytearray]) -> bytearray:
    """Rows kept by every mask (each byte 0 or 1, so a bitwise `and` keeps the 1s)."""
    first = masks[0]
    if len(masks) == 1:
        return bytearray(first)
    value = int.from_bytes(first, "little")
    for mask in masks[1:]:
        value &= int.from_bytes(mask, "little")
    return bytearray(value.to_bytes(len(first), "little"))


def _kept_slots(mask: bytearray) -> Iterator[int]:
    """The slots `mask` keeps, in order, reached by `bytearray.find` (which skips the
    rows it does not keep in C): for a mask keeping few rows."""
    slot = mask.find(1)
    while slot != -1:
        yield slot
        slot = mask.find(1, slot + 1)


def any_of(masks: Sequence[bytearray]) -> bytearray:
    """Rows kept by at least one mask."""
    value = 0
    for mask in masks:
        value |= int.from_bytes(mask, "little")
    return bytearray(value.to_bytes(len(masks[0]), "little"))


def _sort_value(values: list[Any]) -> Callable[[int], Any]:
    """How a column's values compare: as they are, a missing one after any other."""
    if any(v is None for v in values):
        return lambda slot: (values[slot] is None, values[slot])
    return values.__getitem__


class RowSet(Generic[R]):
    """Rows, each in a slot; a slot emptied by `replace` stays empty (its mask byte 0).

    `key` names the column saying which row it is (several rows may share it: a debtor
    owing in two currencies); `group` the debtor a row belongs to (rows are replaced a
    debtor at a time); `searched` the columns a search looks into (matched in small
    letters, anywhere); `order` the list's own order ("-x": descending), `tiebreak` the
    columns making every order total; `amount` and `currency` what the totals add up."""

    def __init__(self, rows: Iterable[R], *, key: str, group: str,
                 searched: Sequence[str], order: Sequence[str], tiebreak: Sequence[str],
                 amount: str = "amount", currency: str = "currency") -> None:
        self.key_name, self.group_name = key, group
        self.searched, self.own_order, self.tiebreak = tuple(searched), tuple(order), \
            tuple(tiebreak)
        self.amount_name, self.currency_name = amount, currency
        self._fields: tuple[str, ...] | None = None  # the rows' names, when tuples
        self.rows: list[R | None] = []
        self.alive = bytearray()
        self._columns: dict[str, list[Any]] = {}
        self._folded: dict[str, list[str]] = {}
        self._hay: list[str] = []
        self._orders: dict[str, list[int]] = {}
        self._slots_of_key: dict[Hashable, list[int]] = {}
        self._slots_of_group: dict[Hashable, list[int]] = {}
        self._by_currency: dict[Any, bytearray] | None = None
        self._whole: dict[str, str] = {}  # a text column's values end to end
        # The masks of the last searches, by (column, text): a longer text's rows are
        # among them (kept until the rows change).
        self._found: dict[tuple[str, str], tuple[bytearray, int]] = {}
        self._totals_of_all: dict[str, int] | None = None
        self._ranks: dict[str, list[int]] = {}  # each order's position of every slot
        self._count = 0  # rows there are (slots not emptied)
        self.version = 0  # moves at each change: what was worked out from the rows is stale
        self._add(list(rows))

    # ------------------------------------------------------------------ the rows

    def _getter(self, name: str) -> Callable[[R], Any]:
        """How a row's value of `name` is read: by position from a database row (a
        tuple; in C, where an attribute goes through Python), else by attribute."""
        get: Callable[[R], Any]
        if self._fields is not None and name in self._fields:
            get = cast("Callable[[R], Any]", operator.itemgetter(self._fields.index(name)))
        else:
            get = operator.attrgetter(name)
        return get

    def _values(self, name: str, rows: list[R]) -> list[Any]:
        return list(map(self._getter(name), rows))

    @staticmethod
    def _texts(values: list[Any]) -> list[str]:
        """Values as text in small letters (a missing one: empty)."""
        if None in values:
            values = ["" if v is None else v for v in values]
        return list(map(str.lower, map(str, values)))

    def _add(self, rows: list[R]) -> list[int]:
        if rows and self._fields is None:
            self._fields = getattr(rows[0], "_fields", None)
        start = len(self.rows)
        self.rows.extend(rows)
        self.alive.extend(b"\x01" * len(rows))
        self._count += len(rows)
        for name, values in self._columns.items():
            values.extend(self._values(name, rows))
        for name, folded in self._folded.items():
            folded.extend(self._texts(self._values(name, rows)))
        searched = [self._texts(self._values(name, rows)) for name in self.searched]
        self._hay.extend(map(SEPARATOR.join, zip(*searched, strict=True)))
        slots = range(start, len(self.rows))
        for slot, key in zip(slots, self._values(self.key_name, rows), strict=True):
            self._slots_of_key.setdefault(key, []).append(slot)
        for slot, group in zip(slots, self._values(self.group_name, rows), strict=True):
            self._slots_of_group.setdefault(group, []).append(slot)
        return list(slots)

    def __len__(self) -> int:
        return self._count



    def replace(self, groups: Iterable[Hashable], rows: Iterable[R]) -> None:
        """The rows of these debtors (`group`) are now `rows`; the kept orders follow."""
        gone: list[int] = []
        for group in set(groups):
            gone += self._slots_of_group.pop(group, [])
        for slot in gone:
            self._count -= self.alive[slot]
            self.alive[slot] = 0
            row = self.rows[slot]
            self.rows[slot] = None
            if row is not None:
                slots = self._slots_of_key.get(getattr(row, self.key_name), [])
                if slot in slots:
                    slots.remove(slot)
        added = self._add(list(rows))
        self._by_currency = None
        self._whole.clear()
        self._found.clear()
        self._totals_of_all = None
        self._ranks.clear()
        alive = self.alive.__getitem__
        for sort, order in self._orders.items():
            if gone:
                order[:] = compress(order, map(alive, order))
            before = self._comparer(sort)
            for slot in added:
                lo, hi = 0, len(order)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if before(order[mid], slot):
                        lo = mid + 1
                    else:
                        hi = mid
                order.insert(lo, slot)
        self.version += 1

    def row(self, slot: int) -> R:
        row = self.rows[slot]
        assert row is not None
        return row

    def column(self, name: str) -> list[Any]:
        """A column's values by slot (kept: built once, extended as rows come)."""
        values = self._columns.get(name)
        if values is None:
            if self._count == len(self.rows):  # no slot emptied: read in C
                values = self._values(name, self.rows)  # type: ignore[arg-type]
            else:
                get = self._getter(name)
                values = [None if row is None else get(row) for row in self.rows]
            self._columns[name] = values
        return values

    def folded(self, name: str) -> list[str]:
        """A column's values in small letters, as text."""
        values = self._folded.get(name)
        if values is None:
            values = self._folded[name] = self._texts(self.column(name))
        return values

    # ------------------------------------------------------------------ masks

    def everything(self) -> bytearray:
        return bytearray(self.alive)

    def matching(self, words: str) -> bytearray:
        """Rows whose searched columns hold `words` (any case)."""
        return self._holding("", self._hay, words.lower())

    def holding(self, name: str, part: str) -> bytearray:
        """Rows whose column `name` holds `part` (any case)."""
        return self._holding(FOLDED + name, self.folded(name), part.lower())

    def containing(self, name: str, part: str) -> bytearray:
        """Rows whose column `name` (text) holds `part` as written."""
        return self._holding(name, self.column(name), part)

    def ready_to_search(self, exact: Sequence[str] = (), any_case: Sequence[str] = ()) -> None:
        """Work out now what a search's first key would (the texts end to end)."""
        self._holding("", self._hay, SEPARATOR)
        for name in exact:
            self._holding(name, self.column(name), SEPARATOR)
        for name in any_case:
            self._holding(FOLDED + name, self.folded(name), SEPARATOR)

    def either(self, words: str, exact: Sequence[tuple[str, str]]) -> bytearray:
        """Rows whose searched columns hold `words` (any case), or whose column `name`
        holds `part` as written, for one of the pairs of `exact`."""
        mask = self.matching(words)
        for name, part in exact:
            rest = mask.translate(_FLIP)  # the rows not matched yet
            if not rest.count(1):
                break
            found = self._holding(name, self.column(name), part, among=rest)
            mask = any_of([mask, found])
        return mask

    def _holding(self, name: str, texts: list[str], part: str,
                 among: bytearray | None = None) -> bytearray:
        """The rows whose text holds `part`; of `among` only, when given."""
        # Text found in no row (a name typed, looked for in the invoice numbers too) is
        # told by one search of the texts end to end, not one per row.
        if part:
            whole = self._whole.get(name)
            if whole is None:
                whole = self._whole[name] = "\n".join(map(str, texts))
            if part not in whole:
                return bytearray(len(texts))
        narrowest = self._narrowest(name, part) if among is None else None
        if narrowest is not None:
            among = narrowest
        if among is not None and among.count(1) * FEW < len(texts):
            mask = bytearray(len(texts))
            for slot in _kept_slots(among):
                if part in texts[slot]:
                    mask[slot] = 1
        else:
            mask = bytearray(map(operator.contains, texts, repeat(part)))
            if among is not None:
                mask = _and([mask, among])
        if narrowest is not None or among is None:  # a mask of the whole column
            _remember(self._found, (name, part), (mask, mask.count(1)), 16)
        return mask

    def _narrowest(self, name: str, part: str) -> bytearray | None:
        """The fewest rows an earlier search of a text within `part` kept (a row
        holding `part` holds that text too), or None."""
        best: tuple[bytearray, int] | None = None
        for (column, earlier), found in self._found.items():
            if column == name and earlier in part and (best is None or found[1] < best[1]):
                best = found
        return None if best is None else best[0]

    def equal(self, name: str, value: Any, *, any_case: bool = False) -> bytearray:
        if any_case:
            return bytearray(map(operator.eq, self.folded(name), repeat(str(value).lower())))
        return bytearray(map(operator.eq, self.column(name), repeat(value)))

    def at_least(self, name: str, bound: int) -> bytearray:
        values = self.column(name)
        return bytearray(map(_ge if None in values else operator.ge, values, repeat(bound)))

    def at_most(self, name: str, bound: int) -> bytearray:
        values = self.column(name)
        return bytearray(map(_le if None in values else operator.le, values, repeat(bound)))

    def keyed(self, keys: Iterable[Hashable]) -> bytearray:
        mask = bytearray(len(self.rows))
        for key in keys:
            for slot in self._slots_of_key.get(key, ()):
                mask[slot] = 1
        return mask

    def kept(self, masks: Sequence[bytearray]) -> bytearray:
        """The rows every mask keeps, among the rows there are."""
        return _and([self.alive, *masks])

    # ------------------------------------------------------------------ figures

    def totals(self, mask: bytearray | None) -> dict[str, int]:
        """What the rows of `mask` (None: every row) add up to, per currency."""
        amounts = self.column(self.amount_name)
        by_currency = self._currency_masks()
        if mask is None:
            if self._totals_of_all is None:
                self._totals_of_all = {c or "": sum(compress(amounts, m))
                                       for c, m in by_currency.items()}
            return dict(self._totals_of_all)
        if len(by_currency) == 1:  # the usual book: one sum, no mask to combine
            currency = next(iter(by_currency))
            return {currency or "": sum(compress(amounts, mask))} if any(mask) else {}
        found: dict[str, int] = {}
        for currency, rows in by_currency.items():
            both = _and([mask, rows])
            if any(both):
                found[currency or ""] = sum(compress(amounts, both))
        return found

    def _currency_masks(self) -> dict[Any, bytearray]:
        """The rows in each currency (worked out again after a change)."""
        if self._by_currency is None:
            currencies = self.column(self.currency_name)
            self._by_currency = {c: self.kept([self.equal(self.currency_name, c)])
                                 for c in set(compress(currencies, self.alive))}
        return self._by_currency

    # ------------------------------------------------------------------ orders

    def _spec(self, sort: str) -> list[tuple[str, bool]]:
        names = [sort] if sort else list(self.own_order)
        return [(n.lstrip("-"), n.startswith("-")) for n in names]

    def _comparer(self, sort: str) -> Callable[[int, int], bool]:
        """Whether slot a comes before slot b in the order `sort` ('' : the list's own)."""
        spec = [(_sort_value(self.column(name)), descending)
                for name, descending in self._spec(sort)]
        ties = [self.column(name) for name in self.tiebreak]

        def before(a: int, b: int) -> bool:
            for value, descending in spec:
                va, vb = value(a), value(b)
                if va != vb:
                    return bool(va > vb) if descending else bool(va < vb)
            return tuple(c[a] for c in ties) < tuple(c[b] for c in ties)

        return before

    def order(self, sort: str) -> list[int]:
        """The rows' slots in the order `sort` (a column, '' for the list's own),
        ascending; kept and followed through `replace` once worked out."""
        found = self._orders.get(sort)
        if found is None:
            found = list(compress(range(len(self.rows)), self.alive))
            # Stable sorts from the last key to the first (each in C, on one column):
            # equal rows keep the order of the keys after.
            for name in reversed(self.tiebreak):
                found.sort(key=self.column(name).__getitem__)
            for name, descending in reversed(self._spec(sort)):
                found.sort(key=_sort_value(self.column(name)), reverse=descending)
            self._orders[sort] = found
        return found

    def shown(self, mask: bytearray | None, sort: str, descending: bool) -> list[int]:
        """The slots of the rows `mask` keeps (None: all), in order."""
        order = self.order(sort)
        if mask is None:
            found = order
        elif mask.count(1) * FEW < len(order):  # few rows: put them in the order's places
            found = sorted(filter(self.alive.__getitem__, _kept_slots(mask)),
                           key=self._rank(sort).__getitem__)
        else:
            found = list(compress(order, map(mask.__getitem__, order)))
        return found[::-1] if descending else found

    def _rank(self, sort: str) -> list[int]:
        """Each slot's place in the order `sort` (kept until the rows change)."""
        rank = self._ranks.get(sort)
        if rank is None:
            rank = [0] * len(self.rows)
            for place, slot in enumerate(self.order(sort)):
                rank[slot] = place
            self._ranks[sort] = rank
        return rank

    def slots_of_groups(self, groups: Iterable[Hashable]) -> list[int]:
        return [slot for group in groups for slot in self._slots_of_group.get(group, ())]

    def slots_of(self, key: Hashable) -> list[int]:
        return list(self._slots_of_key.get(key, ()))


class Views:
    """What the views of a `RowSet` show, kept between keys: a view's rows, count and
    totals are worked out again only when its filters change (not on a sort or a page),
    its order when the sort changes, and all of it when the rows change."""

    KEEP = 8

    def __init__(self, rows: RowSet[Any]) -> None:
        self.rows = rows
        self._figures: dict[Hashable, tuple[bytearray | None, int, dict[str, int]]] = {}
        self._slots: dict[Hashable, list[int]] = {}
        self._version = rows.version

    def _fresh(self) -> None:
        if self._version != self.rows.version:
            self._figures.clear()
            self._slots.clear()
            self._version = self.rows.version

    def figures(self, filters: Hashable, masks: Callable[[], list[bytearray]]
                ) -> tuple[bytearray | None, int, dict[str, int]]:
        """The mask of the view filtered by `filters` (None: every row), its count and
        totals; `masks` works out the filters' masks when they are not known yet."""
        self._fresh()
        found = self._figures.get(filters)
        if found is None:
            wanted = masks()
            mask = self.rows.kept(wanted) if wanted else None
            count = len(self.rows) if mask is None else mask.count(1)
            if count == len(self.rows):
                mask = None  # every row kept (a first letter typed): no order to filter
            found = (mask, count, self.rows.totals(mask))
            _remember(self._figures, filters, found, self.KEEP)
        return found

    def slots(self, filters: Hashable, masks: Callable[[], list[bytearray]], sort: str,
              descending: bool) -> list[int]:
        """The view's slots in its order."""
        mask = self.figures(filters, masks)[0]
        found = self._slots.get((filters, sort, descending))
        if found is None:
            found = self.rows.shown(mask, sort, descending)
            _remember(self._slots, (filters, sort, descending), found, self.KEEP)
        return found


def _remember(cache: dict[K, V], key: K, value: V, keep: int) -> None:
    cache[key] = value
    while len(cache) > keep:
        del cache[next(iter(cache))]


def _ge(value: Any, bound: int) -> bool:
    return value is not None and value >= bound


def _le(value: Any, bound: int) -> bool:
    return value is not None and value <= bound
