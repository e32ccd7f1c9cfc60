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
```
"""

from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relance.errors import UsageError
from relance.store.importing.columns import CANONICAL_COLUMNS, OPTIONAL_COLUMNS

_KEYS = {"decimal_mark", "date_format", "default_creditor", "delimiter", "encoding", "sheet",
         "columns"}


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

    def rename(self, header: str) -> str:
        """The canonical name of a header cell (unmapped names are kept, trimmed)."""
        name = header.strip()
        return self.columns.get(name, name)


def _text(label: str, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError(f"{label}: {key} must be a non-empty text")
    return value


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; every mistake is named with the file."""
    label = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{label}: cannot read the mapping file ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{label}: not a valid TOML file ({exc})") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise UsageError(f"{label}: unknown key {unknown[0]!r} "
                         f"(known: {', '.join(sorted(_KEYS))})")
    raw_columns = data.get("columns", {})
    if not isinstance(raw_columns, dict):
        raise UsageError(f"{label}: [columns] must be a table of \"header\" = \"column\"")
    columns: dict[str, str] = {}
    known = set(CANONICAL_COLUMNS) | set(OPTIONAL_COLUMNS)
    for source, target in raw_columns.items():
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"{label}: columns.{source!r} must name a column")
        target = target.strip()
        if target not in known and not target.startswith("attr."):
            raise UsageError(f"{label}: columns.{source!r} maps to {target!r}, which is not "
                             "a canonical column (custom columns are written attr.NAME)")
        columns[source.strip()] = target
    decimal_mark = _text(label, data, "decimal_mark")
    if decimal_mark is not None and decimal_mark not in (".", ","):
        raise UsageError(f"{label}: decimal_mark must be \".\" or \",\"")
    delimiter = _text(label, data, "delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise UsageError(f"{label}: delimiter must be one character")
    encoding = _text(label, data, "encoding") or "utf-8-sig"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise UsageError(f"{label}: unknown encoding {encoding!r}") from exc
    date_format = _text(label, data, "date_format")
    if date_format is not None and "%" not in date_format:
        raise UsageError(f"{label}: date_format is a strptime pattern such as \"%d.%m.%Y\"")
    return Mapping(
        columns=columns,
        decimal_mark=decimal_mark,
        date_format=date_format,
        default_creditor=_text(label, data, "default_creditor"),
        delimiter=delimiter,
        encoding="utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding,
        sheet=_text(label, data, "sheet"),
    )
