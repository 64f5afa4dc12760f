"""Money primitives: exact Decimal parsing, ISO 4217 minor units, half-up rounding, Paymo currency codes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from paymo_qb_mcp.errors import InputError

__all__ = [
    "CENT",
    "ZERO",
    "minor_unit",
    "normalize_currency",
    "quantize",
    "quantize_places",
    "round_half_up",
    "same_amount",
    "to_decimal",
]

ZERO: Final = Decimal(0)
CENT: Final = Decimal("0.01")

# Active ISO 4217 codes (list of 2025; precious metals, test and fund codes without
# invoices omitted). Paymo's own list is a subset plus the aliases and retired codes below.
# fmt: off
_ISO_CURRENCIES: Final = frozenset({
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE",
    "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR",
    "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND",
    "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG"
})
# fmt: on

# ISO 4217 exponents that are not 2.
_MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(
        (
            *("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"),
            *("VND", "VUV", "XAF", "XOF", "XPF"),
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

# Paymo's currency list (paymoapp/api sections/currencies.md) carries codes that are not ISO 4217.
_PAYMO_ALIASES: Final[dict[str, str]] = {
    "CFP": "XPF",
    "RMB": "CNY",
    "TBH": "THB",
    "US$": "USD",
    "U$S": "USD",
}

# Codes ISO has withdrawn: QBO will not accept them, and converting the amounts is a human decision.
_RETIRED: Final[dict[str, str]] = {
    "EEK": "EUR (Estonia, 2011)",
    "LTL": "EUR (Lithuania, 2015)",
    "LVL": "EUR (Latvia, 2014)",
    "SKK": "EUR (Slovakia, 2009)",
    "HRK": "EUR (Croatia, 2023)",
    "VEF": "VES (Venezuela, 2018)",
}


def to_decimal(value: object) -> Decimal:
    """Return ``value`` as a finite Decimal, refusing floats (they have already lost cents).

    Accepts ``Decimal``, ``int`` and numeric strings (surrounding whitespace allowed).
    """
    if isinstance(value, (bool, float)):
        raise InputError(
            f"money must not be a {type(value).__name__} ({value!r}); pass a Decimal, an int or a "
            "numeric string (parse JSON with parse_float=Decimal)"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InputError(f"{value!r} is not a number") from None
    else:
        raise InputError(f"cannot read {type(value).__name__} {value!r} as money")
    if not result.is_finite():
        raise InputError(f"{value!r} is not a finite number")
    return result


def minor_unit(currency: str) -> int:
    """Number of decimal places of ``currency`` (ISO 4217 exponent; 2 unless listed otherwise)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize_places(amount: Decimal, places: int) -> Decimal:
    """Round ``amount`` half-up (half away from zero) to ``places`` decimals."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round_half_up(value: Fraction | Decimal | int, places: int) -> Decimal:
    """Round an exact value half-up (half away from zero) to ``places`` decimals, with no
    intermediate rounding: rules that divide (discount factors, tax-inclusive splits) stay exact
    until this single step, so a true half cent is never lost to a 28-digit Decimal context.
    """
    exact = Fraction(value)
    scaled = abs(exact) * 10**places
    units, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        units += 1
    return Decimal(-units if exact < 0 else units).scaleb(-places)


def quantize(amount: Decimal, currency: str = "CAD") -> Decimal:
    """Round ``amount`` half-up to the minor unit of ``currency``."""
    return quantize_places(amount, minor_unit(currency))


def same_amount(first: Decimal, second: Decimal, currency: str = "CAD") -> bool:
    """True when both amounts are equal once rounded to the currency's minor unit."""
    return quantize(first, currency) == quantize(second, currency)


def normalize_currency(paymo_code: str) -> str:
    """Map a Paymo currency code to the ISO 4217 code QBO expects.

    Raises ``InputError`` for withdrawn codes (naming the replacement) and for unknown codes.
    """
    code = paymo_code.strip().upper()
    if code in _PAYMO_ALIASES:
        return _PAYMO_ALIASES[code]
    if code in _RETIRED:
        raise InputError(
            f"currency {code} was withdrawn from ISO 4217 (replaced by {_RETIRED[code]}); QuickBooks "
            "does not accept it: convert the record's currency in Paymo first",
            field_name="currency",
        )
    if code in _ISO_CURRENCIES:
        return code
    raise InputError(
        f"unknown currency code {paymo_code!r}: expected an ISO 4217 code (e.g. CAD, USD, EUR)",
        field_name="currency",
    )
