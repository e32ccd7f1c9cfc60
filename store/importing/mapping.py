"""The column-mapping file (TOML) that adapts an ERP export to the canonical format.

```toml
decimal_mark = ","             # settles `1,250`-style cells only
date_format = "%d.%m.%Y"       # tried after ISO dates
default_creditor = "JCDA"      # for files without a creditor column
delimiter = ";"                # CSV only; detected when absent
encoding = "cp1252"            # CSV only; default utf-8 (a BOM is skipped)
sheet = "Factures"             # XLSX only; default the first sheet

[columns]                      # the file's header -> the canonical column
"N° facture" = "invoice_number"
"Code client" = "debtor_ref"

[fec]                          # FEC files only (see `fec.py`)
accounts = ["411"]             # customer account prefixes
payment_terms_days = 30        # a FEC has no due date: issue date + this
journals = ["VT", "AN"]        # whose debits are invoices; default every journal
```
"""

from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relance.kernel.errors import UsageError
from relance.kernel.i18n import _
from relance.store.importing.cells import control_problem, creditor_code_problem
from relance.store.importing.columns import CANONICAL_COLUMNS, OPTIONAL_COLUMNS

_KEYS = {"decimal_mark", "date_format", "default_creditor", "delimiter", "encoding", "sheet",
         "columns", "fec"}
_FEC_KEYS = {"accounts", "payment_terms_days", "journals"}


@dataclass(frozen=True)
class FecOptions:
    """How to read a FEC's customer accounts (the `[fec]` table)."""

    accounts: tuple[str, ...] = ("411",)
    payment_terms_days: int = 30
    journals: tuple[str, ...] = ()  # empty: a debit in any journal is an invoice


@dataclass(frozen=True)
class Mapping:
    """How to read one kind of export; the default reads the canonical format as it is."""

    columns: dict[str, str] = field(default_factory=dict)
    decimal_mark: str | None = None
    date_format: str | None = None
    default_creditor: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    sheet: str | None = None
    fec: FecOptions = field(default_factory=FecOptions)

    def rename(self, header: str) -> str:
        """The canonical name of a header cell (unmapped names are kept, trimmed)."""
        name = header.strip()
        return self.columns.get(name, name)


def _text(label: str, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError(_("{label}: {key} must be a non-empty text").format(label=label,
                                                                            key=key))
    return value


def _codes(label: str, fec: dict[str, Any], key: str, example: str) -> tuple[str, ...] | None:
    value = fec.get(key)
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or not all(isinstance(item, str) and item.strip() for item in value)):
        raise UsageError(_("{label}: fec.{key} must be a non-empty list of texts such as "
                           "{example}").format(label=label, key=key, example=example))
    return tuple(item.strip() for item in value)


def _fec_options(label: str, data: dict[str, Any]) -> FecOptions:
    fec = data.get("fec", {})
    if not isinstance(fec, dict):
        raise UsageError(_("{label}: [fec] must be a table").format(label=label))
    unknown = sorted(set(fec) - _FEC_KEYS)
    if unknown:
        raise UsageError(_("{label}: unknown key fec.{key} (known: {known})").format(
            label=label, key=unknown[0], known=", ".join(sorted(_FEC_KEYS))))
    defaults = FecOptions()
    days = fec.get("payment_terms_days", defaults.payment_terms_days)
    # TOML booleans are ints to Python: `true` must not read as one day.
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        raise UsageError(_("{label}: fec.payment_terms_days must be a whole number of days "
                           "from 0 to 3650").format(label=label))
    return FecOptions(
        accounts=_codes(label, fec, "accounts", '["411"]') or defaults.accounts,
        payment_terms_days=days,
        journals=_codes(label, fec, "journals", '["VT"]') or defaults.journals,
    )


def _key_path(prefix: str, key: str) -> str:
    # Header texts (the keys of [columns]) are quoted as the other messages quote them;
    # a key that is not a plain name is quoted wherever it is.
    if not prefix:
        return key if key.isidentifier() else repr(key)
    return f"{prefix}.{key if prefix != 'columns' and key.isidentifier() else repr(key)}"


def _refuse_controls(label: str, table: dict[str, Any], prefix: str = "") -> None:
    """Refuse a control character or a line break in any key or text of the file: each
    one names a column, a sheet, a creditor or a format, all single lines."""
    for key, value in table.items():
        where = _key_path(prefix, key)
        problem = control_problem(key)
        if problem is not None:
            raise UsageError(f"{label}: {where} {problem}")
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for position, item in items:
            place = where if position is None else f"{where}[{position}]"
            if isinstance(item, dict):
                _refuse_controls(label, item, place)
            elif isinstance(item, str):
                problem = control_problem(item)
                if problem is not None:
                    raise UsageError(f"{label}: {place} {problem}")


def _creditor(label: str, data: dict[str, Any]) -> str | None:
    code = _text(label, data, "default_creditor")
    problem = None if code is None else creditor_code_problem(code)
    if problem is not None:
        raise UsageError(_("{label}: default_creditor: {problem}").format(
            label=label, problem=problem))
    return code


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; every mistake is named with the file."""
    label = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(_("{label}: cannot read the mapping file ({problem})").format(
            label=label, problem=exc.strerror)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(_("{label}: not a valid TOML file ({problem})").format(
            label=label, problem=exc)) from exc
    _refuse_controls(label, data)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise UsageError(_("{label}: unknown key {key!r} (known: {known})").format(
            label=label, key=unknown[0], known=", ".join(sorted(_KEYS))))
    raw_columns = data.get("columns", {})
    if not isinstance(raw_columns, dict):
        raise UsageError(_('{label}: [columns] must be a table of "header" = "column"')
                         .format(label=label))
    columns: dict[str, str] = {}
    known = set(CANONICAL_COLUMNS) | set(OPTIONAL_COLUMNS)
    for source, target in raw_columns.items():
        if not isinstance(target, str) or not target.strip():
            raise UsageError(_("{label}: columns.{header!r} must name a column").format(
                label=label, header=source))
        target = target.strip()
        if target not in known and not target.startswith("attr."):
            raise UsageError(_("{label}: columns.{header!r} maps to {column!r}, which is not "
                               "a canonical column (custom columns are written attr.NAME)")
                             .format(label=label, header=source, column=target))
        columns[source.strip()] = target
    decimal_mark = _text(label, data, "decimal_mark")
    if decimal_mark is not None and decimal_mark not in (".", ","):
        raise UsageError(_('{label}: decimal_mark must be "." or ","').format(label=label))
    delimiter = _text(label, data, "delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise UsageError(_("{label}: delimiter must be one character").format(label=label))
    encoding = _text(label, data, "encoding") or "utf-8-sig"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise UsageError(_("{label}: unknown encoding {encoding!r}").format(
            label=label, encoding=encoding)) from exc
    date_format = _text(label, data, "date_format")
    if date_format is not None and "%" not in date_format:
        raise UsageError(_('{label}: date_format is a strptime pattern such as "%d.%m.%Y"')
                         .format(label=label))
    return Mapping(
        columns=columns,
        decimal_mark=decimal_mark,
        date_format=date_format,
        default_creditor=_creditor(label, data),
        delimiter=delimiter,
        encoding="utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding,
        sheet=_text(label, data, "sheet"),
        fec=_fec_options(label, data),
    )
