"""Paymo invoice/estimate totals: the one rule of docs/sandbox.md, as the emulator applies it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# Every intermediate is a product of terminating decimals divided by 100, so a wide context keeps it
# exact and the only rounding is the rule's own (the default 28 digits could round a long product).
EXACT_PRECISION = 120


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    price_unit: Decimal
    quantity: Decimal
    apply_tax: bool

    @property
    def amount(self) -> Decimal:
        return round_cents(self.price_unit * self.quantity)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    tax2_amount: Decimal
    total: Decimal


def compute_totals(
    lines: Iterable[Line],
    *,
    tax: Decimal | None,
    tax2: Decimal | None,
    tax_on_tax: bool,
    discount: Decimal | None,
) -> Totals:
    """Paymo does not document discount order or rounding; docs/sandbox.md fixes this rule, and
    `domain/paymo_totals.py` implements it independently so a test can check both agree."""
    line_list = list(lines)
    tax_rate = tax or Decimal(0)
    tax2_rate = tax2 or Decimal(0)
    discount_rate = discount or Decimal(0)
    with localcontext(prec=EXACT_PRECISION):
        amounts = [(line.amount, line.apply_tax) for line in line_list]
        subtotal = sum((amount for amount, _ in amounts), Decimal(0))
        discount_amount = round_cents(subtotal * discount_rate / HUNDRED)
        taxable = sum((amount for amount, taxed in amounts if taxed), Decimal(0))
        taxable_base = taxable * (1 - discount_rate / HUNDRED)
        tax_amount = round_cents(taxable_base * tax_rate / HUNDRED)
        tax2_base = taxable_base + tax_amount if tax_on_tax else taxable_base
        tax2_amount = round_cents(tax2_base * tax2_rate / HUNDRED)
        total = subtotal - discount_amount + tax_amount + tax2_amount
    return Totals(
        subtotal=round_cents(subtotal),
        discount_amount=discount_amount,
        tax_amount=tax_amount,
        tax2_amount=tax2_amount,
        total=round_cents(total),
    )
