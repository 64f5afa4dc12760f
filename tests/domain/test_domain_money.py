"""Money primitives: exact parsing, minor units, half-up rounding, Paymo currency codes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymo_qb_mcp.domain.money import (
    minor_unit,
    normalize_currency,
    quantize,
    round_half_up,
    same_amount,
    to_decimal,
)
from paymo_qb_mcp.errors import InputError


def test_to_decimal_accepts_exact_inputs_only() -> None:
    assert to_decimal("1911.60") == Decimal("1911.60")
    assert to_decimal(" 375 ") == Decimal(375)
    assert to_decimal(375) == Decimal(375)
    assert to_decimal(Decimal("0.1")) == Decimal("0.1")


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, "abc", "NaN", "Infinity", Decimal("NaN"), [1]])
def test_to_decimal_rejects_floats_and_non_numbers(value: object) -> None:
    with pytest.raises(InputError):
        to_decimal(value)


def test_float_rejection_tells_how_to_parse() -> None:
    with pytest.raises(InputError, match="parse_float=Decimal"):
        to_decimal(0.1)


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("jpy", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
        ("CAD", 2),
    ],
)
def test_minor_unit_follows_iso_4217(currency: str, places: int) -> None:
    assert minor_unit(currency) == places


def test_quantize_is_half_up_away_from_zero_per_currency() -> None:
    assert quantize(Decimal("0.125")) == Decimal("0.13")
    assert quantize(Decimal("0.135")) == Decimal("0.14")
    assert quantize(Decimal("2.345")) == Decimal("2.35")  # half-even gives 2.34
    assert quantize(Decimal("-0.125")) == Decimal("-0.13")
    assert quantize(Decimal("0.124999")) == Decimal("0.12")
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert quantize(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_round_half_up_is_exact_on_fractions() -> None:
    # 1/3 of a cent short of a half: a 28-digit Decimal context cannot tell these apart reliably.
    assert round_half_up(Fraction(1, 200), 2) == Decimal("0.01")
    assert round_half_up(Fraction(1, 200) - Fraction(1, 10**40), 2) == Decimal("0.00")
    assert round_half_up(Fraction(-1, 200), 2) == Decimal("-0.01")


def test_same_amount_compares_to_the_cent() -> None:
    assert same_amount(Decimal("10.004"), Decimal("10.00"))
    assert not same_amount(Decimal("10.005"), Decimal("10.00"))


@pytest.mark.parametrize(
    ("paymo", "iso"),
    [
        ("CFP", "XPF"),
        ("RMB", "CNY"),
        ("TBH", "THB"),
        ("US$", "USD"),
        ("U$S", "USD"),
        ("cad", "CAD"),
        (" EUR ", "EUR"),
    ],
)
def test_normalize_currency_maps_paymo_codes(paymo: str, iso: str) -> None:
    assert normalize_currency(paymo) == iso


@pytest.mark.parametrize("retired", ["EEK", "LTL", "LVL", "SKK", "VEF", "HRK"])
def test_normalize_currency_refuses_retired_codes_naming_the_replacement(retired: str) -> None:
    with pytest.raises(InputError, match="withdrawn") as raised:
        normalize_currency(retired)
    assert raised.value.field_name == "currency"
    assert ("VES" if retired == "VEF" else "EUR") in raised.value.message


@pytest.mark.parametrize("unknown", ["XYZ", "", "DOLLARS"])
def test_normalize_currency_refuses_unknown_codes(unknown: str) -> None:
    with pytest.raises(InputError, match="unknown currency"):
        normalize_currency(unknown)


cents = st.integers(min_value=-(10**12), max_value=10**12)


@settings(max_examples=200)
@given(cents=cents, extra=st.integers(min_value=0, max_value=9999))
def test_quantize_moves_at_most_half_a_cent_and_is_idempotent(cents: int, extra: int) -> None:
    amount = Decimal(cents).scaleb(-2) + Decimal(extra).scaleb(-6) * (1 if cents >= 0 else -1)
    rounded = quantize(amount)
    assert abs(rounded - amount) <= Decimal("0.005")
    assert quantize(rounded) == rounded
    assert rounded.as_tuple().exponent == -2


@settings(max_examples=200)
@given(cents=cents)
def test_quantize_rounds_exact_halves_away_from_zero(cents: int) -> None:
    half = Decimal(cents).scaleb(-2) + (Decimal("0.005") if cents >= 0 else Decimal("-0.005"))
    expected = Decimal(cents).scaleb(-2) + (Decimal("0.01") if cents >= 0 else Decimal("-0.01"))
    assert quantize(half) == expected
