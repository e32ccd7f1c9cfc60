"""French B2B late-payment penalties and the recovery indemnity (Code de commerce L441-10).

The computation is pure: it takes a `RateTable` (loaded once from the data file
`engine/data/legal_rates.toml`, where each figure has its source) and returns lines a
letter can print as they are.

- Penalties run from the day after the due date. The default annual rate is the ECB
  main refinancing rate in force on the first day of the half-year plus 10 points; a
  delay over several half-years is cut into one segment per half-year, each at its own
  rate, unless the creditor freezes the rate at the due date. A contractual rate
  replaces the legal one; it may not be below 3 x the legal interest rate ("autres
  cas"), and the computation warns when it is.
- Each segment is `base x rate x days / 365`, rounded half-up to the cent; the total is
  the sum of the printed segments, so that the letter adds up.
- The base is the amount incl. VAT still due on the invoice (a partly paid invoice
  accrues on its balance).
- The recovery indemnity is 40 EUR per late invoice. Consumers owe neither.

The same table carries both columns of the French legal interest rate (Code monétaire et
financier L313-2), which a formal notice makes run on any sum of money (Code civil
1344-1): one for creditors who are private persons not acting for professional needs,
one for every other creditor. `legal_rate` picks the column by who the creditor is.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

INDEMNITY_MINOR = 4000  # 40.00 EUR per late invoice (D441-5)
INDEMNITY_CURRENCY = "EUR"
DAYS_PER_YEAR = Decimal(365)

HalfYear = tuple[int, int]  # (year, 1 or 2)

# The figures of a row, as named in the data file; `unverified` may list any of them.
RATE_COLUMNS = ("ecb_refi", "legal_other", "legal_consumer")


@dataclass(frozen=True)
class HalfYearRates:
    """The figures of one half-year, in percent, and which of them are still to verify."""

    period: HalfYear
    ecb_refi: Decimal
    legal_other: Decimal  # legal interest rate, "tous les autres cas"
    legal_consumer: Decimal  # legal interest rate, creditors who are private persons
    legal_source: str  # the arrêté that set both legal rates
    unverified: frozenset[str] = frozenset()

    def note(self, column: str) -> str | None:
        """The warning a figure carries while nobody has confirmed it from its source.
        Kept in English: the dispatcher stores the warnings on the action (data)."""
        if column not in self.unverified:
            return None
        what = {"ecb_refi": "rate",
                "legal_other": "legal interest rate",
                "legal_consumer": "legal interest rate (private-person creditors)"}[column]
        return f"{what} of {format_half_year(self.period)} to verify"


@dataclass(frozen=True)
class RateTable:
    """Every known half-year, plus the margin over the ECB rate and the floor multiplier."""

    rows: Mapping[HalfYear, HalfYearRates]
    margin_points: Decimal = Decimal(10)
    floor_multiplier: Decimal = Decimal(3)

    def lookup(self, period: HalfYear,
               column: str = "ecb_refi") -> tuple[HalfYearRates, str | None]:
        """The rates of `period`, or of the latest earlier one with a warning; the warning
        also tells when the figure of `column` is still to verify."""
        if period in self.rows:
            row = self.rows[period]
            return row, row.note(column)
        earlier = [p for p in self.rows if p < period]
        if not earlier:
            raise ValueError(f"no legal rate known for {format_half_year(period)} or before")
        row = self.rows[max(earlier)]
        return row, (
            f"no rate for {format_half_year(period)} in the table; "
            f"used {format_half_year(row.period)}'s"
        )


@dataclass(frozen=True)
class PenaltySegment:
    """One stretch of the delay at one rate: what a letter prints on one line."""

    start: dt.date  # first day counted
    end: dt.date  # last day counted
    days: int
    rate: Decimal  # annual, percent
    amount_minor: int


@dataclass(frozen=True)
class InvoicePenalty:
    """Penalties and indemnity for one invoice as of one date."""

    base_minor: int
    currency: str
    days_late: int
    segments: tuple[PenaltySegment, ...]
    interest_minor: int
    indemnity_minor: int  # in EUR
    method: str  # "half-year" | "frozen" | "contractual"
    warnings: tuple[str, ...] = field(default=())


def half_year_of(day: dt.date) -> HalfYear:
    return (day.year, 1 if day.month <= 6 else 2)


def half_year_end(period: HalfYear) -> dt.date:
    year, half = period
    return dt.date(year, 6, 30) if half == 1 else dt.date(year, 12, 31)


def format_half_year(period: HalfYear) -> str:
    return f"{period[0]}-H{period[1]}"


def parse_half_year(text: str) -> HalfYear:
    year, _, half = text.partition("-H")
    if half not in ("1", "2") or not year.isdigit():
        raise ValueError(f"not a half-year: {text!r} (expected like 2025-H1)")
    return (int(year), int(half))


def default_rate(table: RateTable, period: HalfYear) -> tuple[Decimal, str | None]:
    """ECB refinancing rate + the margin (10 points) for `period`, and any warning."""
    row, note = table.lookup(period)
    return row.ecb_refi + table.margin_points, note


def legal_floor(table: RateTable, period: HalfYear) -> Decimal:
    """3 x the legal interest rate ("autres cas"): the lowest lawful contractual rate."""
    row, _ = table.lookup(period, "legal_other")
    return row.legal_other * table.floor_multiplier


def legal_rate(table: RateTable, period: HalfYear, *,
               private_creditor: bool = False) -> tuple[Decimal | None, str | None]:
    """The legal interest rate of `period` a creditor may claim, and any warning.

    The column follows the creditor, not the debtor (L313-2): the higher rate only for a
    creditor who is a private person not acting for professional needs; a company claims
    the "autres cas" rate from a consumer as from a business. A half-year missing from
    the table gives no figure: unlike the penalties, nothing needs computing, and a
    letter had better name the legal rate without a figure than quote a stale one.
    """
    if period not in table.rows:
        return None, (f"no legal interest rate for {format_half_year(period)} in the table: "
                      "add the row from the half-year's arrêté")
    column = "legal_consumer" if private_creditor else "legal_other"
    row = table.rows[period]
    rate: Decimal = row.legal_consumer if private_creditor else row.legal_other
    return rate, row.note(column)


def interest_minor(base_minor: int, rate: Decimal, days: int) -> int:
    """base x rate% x days / 365, rounded half-up to the minor unit."""
    exact = Decimal(base_minor) * rate / Decimal(100) * Decimal(days) / DAYS_PER_YEAR
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _segments(start: dt.date, end: dt.date) -> Iterable[tuple[HalfYear, dt.date, dt.date]]:
    day = start
    while day <= end:
        period = half_year_of(day)
        stop = min(end, half_year_end(period))
        yield period, day, stop
        day = stop + dt.timedelta(days=1)


def compute_penalty(
    table: RateTable,
    *,
    base_minor: int,
    currency: str,
    due_date: dt.date,
    on: dt.date,
    contractual_rate: Decimal | None = None,
    frozen: bool = False,
    consumer: bool = False,
) -> InvoicePenalty:
    """The penalties owed on one invoice still due on `on` (nothing when not late)."""
    days_late = (on - due_date).days
    if consumer or days_late <= 0 or base_minor <= 0:
        return InvoicePenalty(base_minor, currency, max(days_late, 0), (), 0, 0,
                              "none" if consumer else "half-year")
    first = due_date + dt.timedelta(days=1)
    warnings: list[str] = []
    segments: list[PenaltySegment] = []
    if contractual_rate is not None:
        method = "contractual"
        floor = legal_floor(table, half_year_of(first))
        if contractual_rate < floor:
            warnings.append(
                f"contractual rate {contractual_rate} % is below the legal floor "
                f"{floor} % (3 x the legal rate of {format_half_year(half_year_of(first))})"
            )
        segments.append(PenaltySegment(first, on, days_late, contractual_rate,
                                       interest_minor(base_minor, contractual_rate, days_late)))
    elif frozen:
        method = "frozen"
        rate, note = default_rate(table, half_year_of(due_date))
        if note:
            warnings.append(note)
        segments.append(PenaltySegment(first, on, days_late, rate,
                                       interest_minor(base_minor, rate, days_late)))
    else:
        method = "half-year"
        for period, start, stop in _segments(first, on):
            rate, note = default_rate(table, period)
            if note and note not in warnings:
                warnings.append(note)
            days = (stop - start).days + 1
            segments.append(PenaltySegment(start, stop, days, rate,
                                           interest_minor(base_minor, rate, days)))
    return InvoicePenalty(
        base_minor=base_minor,
        currency=currency,
        days_late=days_late,
        segments=tuple(segments),
        interest_minor=sum(s.amount_minor for s in segments),
        indemnity_minor=INDEMNITY_MINOR,
        method=method,
        warnings=tuple(warnings),
    )


def total_indemnity(penalties: Sequence[InvoicePenalty]) -> int:
    """40 EUR per late invoice, in EUR minor units."""
    return sum(p.indemnity_minor for p in penalties)


def rate_table_from_data(data: Mapping[str, Any]) -> RateTable:
    """Build a table from the parsed TOML document (see engine/data/legal_rates.toml)."""
    meta = data.get("meta", {})
    rows: dict[HalfYear, HalfYearRates] = {}
    for entry in data.get("half_year", []):
        period = parse_half_year(str(entry["period"]))
        unverified = frozenset(str(c) for c in entry.get("unverified", ()))
        if unknown := sorted(unverified - set(RATE_COLUMNS)):
            # A misspelt column would silently count its figure as confirmed.
            raise ValueError(f"{format_half_year(period)}: unknown column in unverified: "
                             f"{', '.join(unknown)} (known: {', '.join(RATE_COLUMNS)})")
        rows[period] = HalfYearRates(
            period=period,
            ecb_refi=Decimal(str(entry["ecb_refi"])),
            legal_other=Decimal(str(entry["legal_other"])),
            legal_consumer=Decimal(str(entry["legal_consumer"])),
            legal_source=str(entry["legal_source"]),
            unverified=unverified,
        )
    return RateTable(
        rows=rows,
        margin_points=Decimal(str(meta.get("margin_points", "10"))),
        floor_multiplier=Decimal(str(meta.get("floor_multiplier", "3"))),
    )


@functools.cache
def load_rate_table() -> RateTable:
    """The rate table shipped with relance (read once per process)."""
    text = (importlib.resources.files("relance.engine") / "data" / "legal_rates.toml").read_text(
        encoding="utf-8"
    )
    return rate_table_from_data(tomllib.loads(text))
