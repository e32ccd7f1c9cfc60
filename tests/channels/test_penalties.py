"""French B2B late-payment penalties: the figures of law-and-money.md, to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from relance.engine.penalties import (
    compute_penalty,
    default_rate,
    interest_minor,
    legal_floor,
    legal_rate,
    load_rate_table,
    rate_table_from_data,
    total_indemnity,
)

TABLE = load_rate_table()


def test_fixture_15000_eur_at_15_percent_for_30_days_is_184_93() -> None:
    assert interest_minor(1_500_000, Decimal("15"), 30) == 18_493
    penalty = compute_penalty(TABLE, base_minor=1_500_000, currency="EUR",
                              due_date=dt.date(2025, 3, 1), on=dt.date(2025, 3, 31),
                              contractual_rate=Decimal("15"))
    assert penalty.days_late == 30
    assert penalty.interest_minor == 18_493
    assert penalty.indemnity_minor == 4_000
    assert penalty.method == "contractual"
    assert penalty.warnings == ()  # 15 % is above 3 x 3.71 % = 11.13 %


def test_default_rate_is_ecb_plus_ten_points_per_half_year() -> None:
    assert default_rate(TABLE, (2023, 1))[0] == Decimal("12.50")
    assert default_rate(TABLE, (2024, 2))[0] == Decimal("14.25")
    assert default_rate(TABLE, (2025, 1))[0] == Decimal("13.15")
    assert legal_floor(TABLE, (2024, 1)) == Decimal("15.21")


def test_delay_over_two_half_years_is_cut_per_half_year() -> None:
    # Due 15 June 2025: 15 days at 13.15 % (2025-H1), then 15 days at 12.15 % (2025-H2).
    penalty = compute_penalty(TABLE, base_minor=1_500_000, currency="EUR",
                              due_date=dt.date(2025, 6, 15), on=dt.date(2025, 7, 15))
    assert [(s.days, s.rate, s.amount_minor) for s in penalty.segments] == [
        (15, Decimal("13.15"), 8_106),  # 15000 x 13.15 % x 15 / 365 = 81.06
        (15, Decimal("12.15"), 7_490),  # 15000 x 12.15 % x 15 / 365 = 74.90
    ]
    assert penalty.interest_minor == 15_596
    assert penalty.segments[0].start == dt.date(2025, 6, 16)
    assert penalty.segments[1].start == dt.date(2025, 7, 1)
    assert "rate of 2025-H2 to verify" in penalty.warnings


def test_frozen_rate_keeps_the_due_dates_half_year() -> None:
    penalty = compute_penalty(TABLE, base_minor=1_500_000, currency="EUR",
                              due_date=dt.date(2025, 6, 15), on=dt.date(2025, 7, 15),
                              frozen=True)
    assert [(s.days, s.rate) for s in penalty.segments] == [(30, Decimal("13.15"))]
    assert penalty.interest_minor == 16_212  # 15000 x 13.15 % x 30 / 365 = 162.12


def test_contractual_rate_below_three_times_legal_rate_warns() -> None:
    penalty = compute_penalty(TABLE, base_minor=100_000, currency="EUR",
                              due_date=dt.date(2024, 2, 1), on=dt.date(2024, 3, 2),
                              contractual_rate=Decimal("10"))
    assert any("below the legal floor 15.21 %" in w for w in penalty.warnings)


def test_consumers_owe_neither_interest_nor_indemnity() -> None:
    penalty = compute_penalty(TABLE, base_minor=1_500_000, currency="EUR",
                              due_date=dt.date(2025, 3, 1), on=dt.date(2025, 3, 31),
                              consumer=True)
    assert penalty.interest_minor == 0 and penalty.indemnity_minor == 0


def test_not_late_means_nothing_and_three_late_invoices_owe_120_eur() -> None:
    on_time = compute_penalty(TABLE, base_minor=1_000, currency="EUR",
                              due_date=dt.date(2025, 3, 1), on=dt.date(2025, 3, 1))
    assert on_time.interest_minor == 0 and on_time.indemnity_minor == 0
    late = [compute_penalty(TABLE, base_minor=500 + n, currency="EUR",
                            due_date=dt.date(2025, 3, 1), on=dt.date(2025, 3, 10))
            for n in range(3)]
    assert total_indemnity(late) == 12_000


def test_a_half_year_beyond_the_table_uses_the_last_known_rate_with_a_warning() -> None:
    penalty = compute_penalty(TABLE, base_minor=100_000, currency="EUR",
                              due_date=dt.date(2026, 10, 1), on=dt.date(2026, 10, 31))
    assert penalty.segments[0].rate == Decimal("12.15")
    assert any("no rate for 2026-H2" in w for w in penalty.warnings)


def test_half_up_rounding_to_the_cent() -> None:
    # 1000.00 x 10 % x 73 / 365 = 20.00 exactly; 1.00 x 10 % x 1825 / 365 = 0.50.
    assert interest_minor(100_000, Decimal("10"), 73) == 2_000
    assert interest_minor(10, Decimal("10"), 1825) == 5  # 0.05 -> 5 cents, no banker's rounding
    assert interest_minor(100, Decimal("18.25"), 1) == 0  # 0.005 cent rounds down
    assert interest_minor(1_000, Decimal("18.25"), 1) == 1  # 0.5 cent rounds half up


def test_the_table_keeps_both_legal_rate_columns_with_their_source() -> None:
    row, _ = TABLE.lookup((2026, 1))
    # Arrêté of 15 December 2025 (JORF of 26 December 2025).
    assert row.legal_other == Decimal("2.62") and row.legal_consumer == Decimal("6.67")
    assert "15 décembre 2025" in row.legal_source
    assert TABLE.lookup((2023, 2))[0].legal_consumer == Decimal("6.82")
    assert all(r.legal_source for r in TABLE.rows.values())


def test_the_legal_rate_claimed_depends_on_who_the_creditor_is() -> None:
    """L313-2: the higher column is for creditors who are private persons; a company
    claims the "autres cas" rate, from businesses and consumers alike."""
    assert legal_rate(TABLE, (2026, 1)) == (Decimal("2.62"), None)
    assert legal_rate(TABLE, (2026, 1), private_creditor=True) == (Decimal("6.67"), None)


def test_a_legal_rate_missing_from_the_table_is_no_figure_and_a_warning() -> None:
    rate, note = legal_rate(TABLE, (2026, 2))
    assert rate is None and note is not None and "no legal interest rate for 2026-H2" in note


def test_an_unverified_figure_warns_only_where_it_is_used() -> None:
    table = rate_table_from_data({"half_year": [
        {"period": "2025-H1", "ecb_refi": "3.15", "legal_other": "3.71",
         "legal_consumer": "7.21", "legal_source": "arrêté du 17 décembre 2024",
         "unverified": ["legal_consumer"]},
        {"period": "2025-H2", "ecb_refi": "2.15", "legal_other": "2.76",
         "legal_consumer": "6.65", "legal_source": "arrêté du 19 juin 2025",
         "unverified": ["ecb_refi"]},
    ]})
    assert default_rate(table, (2025, 1)) == (Decimal("13.15"), None)
    assert legal_rate(table, (2025, 1)) == (Decimal("3.71"), None)
    rate, note = legal_rate(table, (2025, 1), private_creditor=True)
    assert rate == Decimal("7.21") and note is not None and "2025-H1" in note
    assert "to verify" in note
    assert default_rate(table, (2025, 2))[1] == "rate of 2025-H2 to verify"
    assert legal_rate(table, (2025, 2)) == (Decimal("2.76"), None)
    with pytest.raises(ValueError, match="unknown column"):
        rate_table_from_data({"half_year": [
            {"period": "2025-H1", "ecb_refi": "3.15", "legal_other": "3.71",
             "legal_consumer": "7.21", "legal_source": "x", "unverified": ["ecb"]}]})
