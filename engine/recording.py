"""The facts a run records for an acting rule, read from a row of its compiled query.

For each rule, `recorder` builds once the function that turns a row into the facts the
audit keeps: the same keys and texts as `interpret.record` gives from loaded facts (the
differential test holds them to it). A first run records facts for every acting
invoice, so the function is generated: one dict display per row, each value read from
its column in place or through a small helper, rather than a loop over the probes.

The generated source holds only names this module makes up (`k0`, `h0`, ...) and column
positions; the probe keys and every value a rule wrote reach it as bound objects of its
namespace, never as text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from relance.dsl.ast import FieldRef
from relance.dsl.fields import FieldType
from relance.engine.durations import elapsed
from relance.engine.interpret import DURATION_FIELDS, Probe, field_type
from relance.engine.payer_profile import SCALED, hundredths_text
from relance.engine.sqlcompile import FLAG_FIELDS, RAW_COLUMNS, CompiledPolicy
from relance.kernel.money import money_text

Row = Sequence[Any]
Recorder = Callable[[Row], dict[str, Any]]
Columns = dict[str, int]  # column name -> position in the row

# Where the compiled query puts the value behind a field: its raw columns, and the
# extra values it labels for the durations counted from a sub-query's date.
_ROW_COLUMNS = {**RAW_COLUMNS, "last_action": "last_action_on",
                "instalment_overdue": "instalment_since"}


def _date_text(value: Any) -> Any:
    # SQLite hands back a scalar sub-query's date as ISO text already.
    return value.isoformat() if isinstance(value, dt.date) else value


def _as_date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _duration_text(name: str, business: bool, on: dt.date) -> Callable[..., Any]:
    """`15d` / `-3bd` from the date a duration counts from (and, for business days, the
    creditor's country and calendar region). Few distinct dates recur over many rows:
    each text is worked out once."""
    sign = DURATION_FIELDS[name][1]
    unit = "bd" if business else "d"
    texts: dict[Any, Any] = {}

    def text(since: Any, country: str = "", region: str | None = None) -> Any:
        key = (since, country, region)
        found = texts.get(key, texts)
        if found is texts:
            if since is None:
                found = None
            else:
                days = elapsed(_as_date(since), on, business=business, country=country,
                               subdivision=region)
                found = f"{sign * days}{unit}"
            texts[key] = found
        return found

    return text


def _attr_text(key: str) -> Callable[[Any], Any]:
    def text(attrs: Any) -> Any:
        if isinstance(attrs, str | bytes):
            attrs = json.loads(attrs)
        value = (attrs or {}).get(key)
        return None if value is None else str(value)

    return text


class _Source:
    """The source of one recorder: a value expression per probe, helpers bound by name."""

    def __init__(self, at: Columns, text_dates: bool) -> None:
        self.at = at
        self.text_dates = text_dates
        self.namespace: dict[str, Any] = {"B": bool, "S": str, "M": money_text, "D": _date_text}

    def bind(self, value: Any) -> str:
        name = f"h{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def column(self, name: str) -> str:
        return f"m[{self.at[name]}]"

    def value(self, probe: Probe, compiled: CompiledPolicy, on: dt.date) -> str:
        _key, kind, name, business = probe
        if kind == "tag":
            return f"B({self.column(f'tag_{compiled.tags.index(name)}')})"
        if kind == "after":
            return f"D({self.column(f'after_{compiled.after_rules.index(name)}')})"
        if kind == "duration":
            since = self.column(_ROW_COLUMNS.get(name, name))
            text = self.bind(_duration_text(name, business, on))
            if business:
                return (f"{text}({since}, {self.column('creditor_country')}, "
                        f"{self.column('creditor_region')})")
            return f"{text}({since})"
        if kind == "money":
            return f"M({self.column(_ROW_COLUMNS.get(name, name))}, {self.column('currency')})"
        if name.startswith("attr."):
            return f"{self.bind(_attr_text(name[len('attr.'):]))}({self.column('attrs')})"
        if name == "paused":
            paused = self.column("paused_until")
            # SQLite's dates are ISO text, which sorts as the dates do.
            today = on.isoformat() if self.text_dates else on
            return f"({paused} is not None and {paused} >= {self.bind(today)})"
        if name == "disputed":
            return f"({self.column('dispute_reason')} is not None)"
        if name in FLAG_FIELDS:
            return f"B({self.column(f'flag_{name}')})"
        if name == "stage":
            return f"S({self.column('stage')})"
        if name in SCALED:  # stored in hundredths, recorded as the decimal text
            return f"{self.bind(hundredths_text)}({self.column(SCALED[name])})"
        column = self.column(_ROW_COLUMNS.get(name, name))
        return f"D({column})" if field_type(FieldRef(name)) is FieldType.DATE else column


def recorder(wanted: list[Probe], compiled: CompiledPolicy, on: dt.date, at: Columns,
             *, text_dates: bool) -> Recorder:
    """The function giving a row's recorded facts for these probes (see module doc).

    Rows are the driver's own: `text_dates` when it hands dates back as ISO text
    (SQLite), and JSON either parsed or as text."""
    source = _Source(at, text_dates)
    entries = []
    for probe in wanted:
        key = source.bind(probe[0])
        entries.append(f"{key}: {source.value(probe, compiled, on)}")
    code = f"def record(m):\n    return {{{', '.join(entries)}}}\n"
    exec(compile(code, "<relance recorder>", "exec"), source.namespace)
    made: Recorder = source.namespace["record"]
    return made
