"""A realistic book of receivables in the canonical import format, for benchmarks.

`book_rows` yields rows (lists of cell text) for N invoices of one creditor: debtors in
five segments, each with several invoices over the past months, amounts written in the
French and international notations that exports mix, some paid, partly paid, disputed,
tagged. Deterministic for a seed. Used by `bench/import_bench.py`; the engine's
benchmarks can build their book with it too.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

HEADER = [
    "creditor", "debtor_ref", "debtor_name", "segment", "email", "phone", "country",
    "language", "payment_method", "sales_rep", "invoice_number", "issue_date", "due_date",
    "amount", "currency", "paid_amount", "disputed", "tags", "risk", "region",
]

SEGMENTS = (("franchisee", 45), ("key_account", 5), ("smb", 30), ("individual", 15),
            ("public_body", 5))
CITIES = ("Lyon", "Paris", "Nantes", "Lille", "Bordeaux", "Marseille", "Toulouse", "Rennes",
          "Strasbourg", "Nice", "Grenoble", "Dijon", "Angers", "Reims", "Metz", "Brest")
REGIONS = ("ARA", "IDF", "PDL", "HDF", "NAQ", "PAC", "OCC", "BRE", "GES", "BFC", "NOR", "CVL")
REPS = ("alice", "bruno", "chloe", "david", "emma", "farid")
METHODS = ("transfer", "direct_debit", "cheque", "card")


def _french(cents: int) -> str:
    """`1 234,56` with a no-break space, as French spreadsheets export it."""
    units, rest = divmod(cents, 100)
    return f"{units:,}".replace(",", "\u00a0") + f",{rest:02d}"


def _plain(cents: int) -> str:
    units, rest = divmod(cents, 100)
    return f"{units}.{rest:02d}"


def book_rows(count: int, *, seed: int = 1, on: dt.date | None = None,
              creditor: str = "BENCH", invoices_per_debtor: int = 15) -> Iterator[list[str]]:
    """`count` invoice rows (without the header), deterministic for `seed`."""
    rng = random.Random(seed)
    today = on or dt.date(2026, 11, 22)
    segments = [name for name, weight in SEGMENTS for _ in range(weight)]
    debtors = max(1, count // invoices_per_debtor)
    for index in range(count):
        debtor = index % debtors
        drng = random.Random(seed * 1_000_003 + debtor)  # stable debtor fields on every row
        segment = drng.choice(segments)
        city = drng.choice(CITIES)
        ref = f"D{debtor:07d}"
        name = (f"{segment.replace('_', ' ').title()} {city} {debtor}" if segment != "individual"
                else f"Client {debtor} {city}")
        issue = today - dt.timedelta(days=rng.randint(0, 240))
        due = issue + dt.timedelta(days=rng.choice((15, 30, 30, 45, 60)))
        cents = rng.randint(2_000, 2_500_000) if segment == "key_account" \
            else rng.randint(1_500, 400_000)
        state = rng.random()
        paid = cents if state < 0.45 else (cents // 3 if state < 0.55 else 0)
        written = _french if rng.random() < 0.5 else _plain
        yield [
            creditor, ref, name, segment, f"compta{debtor}@example.fr",
            f"+33{drng.randint(100_000_000, 799_999_999)}", "FR", "fr",
            drng.choice(METHODS), drng.choice(REPS), f"FA-{index:08d}",
            issue.isoformat() if rng.random() < 0.7 else issue.strftime("%d/%m/%Y"),
            due.isoformat(), written(cents), "EUR", written(paid),
            "contested delivery" if rng.random() < 0.02 else "",
            "vip" if drng.random() < 0.05 else "",
            str(drng.randint(0, 100)), drng.choice(REGIONS),
        ]


def write_book(path: Path, count: int, *, seed: int = 1, on: dt.date | None = None,
               delimiter: str = ";", invoices_per_debtor: int = 15) -> Path:
    """Write a canonical CSV of `count` invoices; returns `path`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(HEADER)
        writer.writerows(book_rows(count, seed=seed, on=on,
                                   invoices_per_debtor=invoices_per_debtor))
    return path
