from __future__ import annotations

from decimal import Decimal

import pytest

from relance.kernel.money import CurrencyMismatch, Money, round_to_minor, to_decimal, to_minor


def test_amounts_are_integer_minor_units_per_currency() -> None:
    assert to_minor(Decimal("18900.00"), "EUR") == 1_890_000
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("1.234"), "TND") == 1234
    assert to_decimal(340050, "EUR") == Decimal("3400.50")


def test_extra_decimals_are_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        to_minor(Decimal("10.001"), "EUR")


def test_penalty_rounding_is_half_up_to_the_cent() -> None:
    # 15,000.00 EUR x 15 % x 30 / 365 = 184.9315... -> 184.93
    raw = Decimal("15000.00") * Decimal("0.15") * 30 / 365
    assert round_to_minor(raw, "EUR") == 18493
    assert round_to_minor(Decimal("0.005"), "EUR") == 1


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("10", "EUR") + Money.of("10", "CHF")
    assert str(Money.of("1250.5", "eur") + Money.of("0.5", "EUR")) == "1251.00 EUR"
