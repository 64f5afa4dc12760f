"""Paymo's invoice arithmetic: line amounts, discount, the two taxes and the total (docs/sandbox.md rule)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from paymo_qb_mcp.domain.money import ZERO, round_half_up, to_decimal
from paymo_qb_mcp.errors import InputError

__all__ = [
    "PAYMO_DECIMAL_PLACES",
    "PaymoInvoiceHeader",
    "PaymoInvoiceLine",
    "PaymoInvoiceTotals",
    "compute_paymo_totals",
]

# Paymo prints and stores amounts with two decimals whatever the currency.
PAYMO_DECIMAL_PLACES = 2
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PaymoInvoiceLine:
    """One Paymo invoice item as far as money is concerned."""

    price_unit: Decimal
    quantity: Decimal
    apply_tax: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "price_unit", to_decimal(self.price_unit))
        object.__setattr__(self, "quantity", to_decimal(self.quantity))


@dataclass(frozen=True)
class PaymoInvoiceHeader:
    """Invoice-level figures: ``tax``, ``tax2`` and ``discount`` in percent, and ``tax_on_tax``."""

    tax: Decimal = ZERO
    tax2: Decimal = ZERO
    tax_on_tax: bool = False
    discount: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("tax", "tax2", "discount"):
            value = to_decimal(getattr(self, name))
            if value < 0:
                raise InputError(f"Paymo invoice {name} must not be negative (got {value})", field_name=name)
            object.__setattr__(self, name, value)
        if self.discount > _HUNDRED:
            raise InputError(
                f"Paymo discount is a percentage ≤ 100 (got {self.discount})", field_name="discount"
            )


@dataclass(frozen=True)
class PaymoInvoiceTotals:
    """Every figure Paymo shows on an invoice, plus the unrounded taxable base the taxes were taken from."""

    line_amounts: tuple[Decimal, ...]
    subtotal: Decimal
    taxable_subtotal: Decimal
    discount_amount: Decimal
    taxable_base: Decimal
    tax_amount: Decimal
    tax2_amount: Decimal
    total: Decimal

    @property
    def total_tax(self) -> Decimal:
        return self.tax_amount + self.tax2_amount

    @classmethod
    def compute(cls, lines: Sequence[PaymoInvoiceLine], header: PaymoInvoiceHeader) -> PaymoInvoiceTotals:
        return compute_paymo_totals(lines, header)


# Every intermediate of the rule is a product of decimals divided by 100, hence a terminating
# decimal; a wide context keeps it exact so the only rounding is the documented one.
_EXACT_PRECISION = 120


def _round(amount: Decimal) -> Decimal:
    return round_half_up(amount, PAYMO_DECIMAL_PLACES)


def compute_paymo_totals(lines: Sequence[PaymoInvoiceLine], header: PaymoInvoiceHeader) -> PaymoInvoiceTotals:
    """Apply the Paymo invoice rule of docs/sandbox.md (identical to the emulator's).

    Line amounts are rounded first; the discount percentage is taken off the subtotal (rounded) and,
    unrounded, off the taxable base; each tax is rounded once at invoice level; ``tax2`` is compound
    (taken on base + tax) only when ``tax_on_tax``.
    """
    with localcontext(prec=_EXACT_PRECISION):
        line_amounts = tuple(_round(line.price_unit * line.quantity) for line in lines)
        subtotal = sum(line_amounts, ZERO)
        taxable_subtotal = sum(
            (amount for amount, line in zip(line_amounts, lines, strict=True) if line.apply_tax), ZERO
        )
        discount_amount = _round(subtotal * header.discount / _HUNDRED)
        taxable_base = taxable_subtotal * (1 - header.discount / _HUNDRED)
        tax_amount = _round(taxable_base * header.tax / _HUNDRED)
        tax2_base = taxable_base + tax_amount if header.tax_on_tax else taxable_base
        tax2_amount = _round(tax2_base * header.tax2 / _HUNDRED)
    return PaymoInvoiceTotals(
        line_amounts=line_amounts,
        subtotal=subtotal,
        taxable_subtotal=taxable_subtotal,
        discount_amount=discount_amount,
        taxable_base=taxable_base,
        tax_amount=tax_amount,
        tax2_amount=tax2_amount,
        total=subtotal - discount_amount + tax_amount + tax2_amount,
    )
