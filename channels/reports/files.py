"""Where a report lands: its default file name and how it is written.

The command line and the desk name the same report the same way (`aged-balance-DAY.xlsx`,
`statement-REF-DAY.pdf`), so that an operator finds it whichever made it. A file is
written aside and renamed, so that a viewer or a mail client never opens half of one.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from relance.channels.batches import slug
from relance.channels.reports.csv_export import Dialect, write_csv
from relance.channels.reports.sheet import Sheet


def aged_name(day: dt.date, extension: str) -> str:
    """`aged-balance-2026-11-20.xlsx`."""
    return f"aged-balance-{day.isoformat()}.{extension}"


def statement_name(ref: str, day: dt.date, extension: str) -> str:
    """`statement-F-0003-2026-11-20.pdf`: the debtor's reference made safe for a name."""
    return f"statement-{slug(ref)}-{day.isoformat()}.{extension}"


def write_whole(data: bytes, target: Path) -> Path:
    """Write `data` to `target` whole or not at all (aside, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    os.replace(part, target)
    return target


def write_csv_file(sheet: Sheet, target: Path, dialect: Dialect = Dialect.EXCEL_FR) -> Path:
    """`sheet` as a CSV file in `dialect`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        write_csv(sheet, handle, dialect)
    return target
