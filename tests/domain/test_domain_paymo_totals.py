"""Paymo's invoice arithmetic, checked against figures computed by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from paymo_qb_mcp.domain.paymo_totals import (
    PaymoInvoiceHeader,
    PaymoInvoiceLine,
    PaymoInvoiceTotals,
    compute_paymo_totals,
)
from paymo_qb_mcp.errors import InputError

INV_2026_1035_LINES = [
    PaymoInvoiceLine(price_unit=Decimal("150"), quantity=Decimal("20"), apply_tax=True),  # Design
    PaymoInvoiceLine(price_unit=Decimal("150"), quantity=Decimal("12.5"), apply_tax=True),  # Development
    PaymoInvoiceLine(price_unit=Decimal("49.99"), quantity=Decimal("1"), apply_tax=False),  # Hosting
]
INV_2026_1035_HEADER = PaymoInvoiceHeader(
    tax=Decimal("5"), tax2=Decimal("9.975"), tax_on_tax=False, discount=Decimal("10")
)


def test_seeded_invoice_inv_2026_1035_by_hand() -> None:
    # Lines: 20 × 150 = 3000.00; 12.5 × 150 = 1875.00; 1 × 49.99 = 49.99 → subtotal 4924.99.
    # Discount 10 % of 4924.99 = 492.499 → 492.50.
    # Taxable base: (3000 + 1875) × 0.90 = 4387.50 (Hosting is untaxed).
    # GST 5 % of 4387.50 = 219.375 → 219.38; QST 9.975 % of 4387.50 = 437.653125 → 437.65.
    # Total: 4924.99 − 492.50 + 219.38 + 437.65 = 5089.52.
    totals = compute_paymo_totals(INV_2026_1035_LINES, INV_2026_1035_HEADER)
    assert totals.line_amounts == (Decimal("3000.00"), Decimal("1875.00"), Decimal("49.99"))
    assert totals.subtotal == Decimal("4924.99")
    assert totals.taxable_subtotal == Decimal("4875.00")
    assert totals.discount_amount == Decimal("492.50")
    assert totals.taxable_base == Decimal("4387.50")
    assert totals.tax_amount == Decimal("219.38")
    assert totals.tax2_amount == Decimal("437.65")
    assert totals.total_tax == Decimal("657.03")
    assert totals.total == Decimal("5089.52")
    assert PaymoInvoiceTotals.compute(INV_2026_1035_LINES, INV_2026_1035_HEADER) == totals


def test_documented_examples_from_the_paymo_api_docs() -> None:
    # paymoapp/api invoices.md: 15 × 25 at 3 % → 375 + 11.25 = 386.25; 1593 at 20 % → 1911.6.
    small = compute_paymo_totals(
        [PaymoInvoiceLine(Decimal("25"), Decimal("15"), True)], PaymoInvoiceHeader(tax=Decimal("3"))
    )
    assert (small.subtotal, small.tax_amount, small.total) == (
        Decimal("375.00"),
        Decimal("11.25"),
        Decimal("386.25"),
    )
    large = compute_paymo_totals(
        [PaymoInvoiceLine(Decimal("1593"), Decimal("1"), True)], PaymoInvoiceHeader(tax=Decimal("20"))
    )
    assert (large.tax_amount, large.total) == (Decimal("318.60"), Decimal("1911.60"))


def test_tax_on_tax_takes_the_second_tax_on_base_plus_first_tax() -> None:
    # 1000 at 5 % = 50.00; compound 9.975 % of 1050.00 = 104.7375 → 104.74 (not 99.75).
    header = PaymoInvoiceHeader(tax=Decimal("5"), tax2=Decimal("9.975"), tax_on_tax=True)
    totals = compute_paymo_totals([PaymoInvoiceLine(Decimal("1000"), Decimal("1"), True)], header)
    assert (totals.tax_amount, totals.tax2_amount, totals.total) == (
        Decimal("50.00"),
        Decimal("104.74"),
        Decimal("1154.74"),
    )


def test_line_amounts_are_rounded_half_up_before_summing() -> None:
    # 1.3333 h × 150 = 199.995 → 200.00; 0.3333 × 100.005 = 33.3316665 → 33.33.
    lines = [
        PaymoInvoiceLine(Decimal("150"), Decimal("1.3333"), False),
        PaymoInvoiceLine(Decimal("100.005"), Decimal("0.3333"), False),
    ]
    totals = compute_paymo_totals(lines, PaymoInvoiceHeader())
    assert totals.line_amounts == (Decimal("200.00"), Decimal("33.33"))
    assert totals.total == Decimal("233.33")


def test_full_discount_leaves_no_tax() -> None:
    totals = compute_paymo_totals(
        [PaymoInvoiceLine(Decimal("99.99"), Decimal("3"), True)],
        PaymoInvoiceHeader(tax=Decimal("20"), discount=Decimal("100")),
    )
    assert (totals.discount_amount, totals.tax_amount, totals.total) == (
        Decimal("299.97"),
        Decimal("0.00"),
        Decimal("0.00"),
    )


def test_an_invoice_without_lines_totals_zero() -> None:
    totals = compute_paymo_totals([], PaymoInvoiceHeader(tax=Decimal("5")))
    assert totals.total == 0
    assert totals.line_amounts == ()


@pytest.mark.parametrize(
    "header_kwargs",
    [{"tax": Decimal("-1")}, {"discount": Decimal("101")}, {"tax2": Decimal("-0.5")}],
)
def test_header_rejects_impossible_percentages(header_kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        PaymoInvoiceHeader(**header_kwargs)


def test_lines_refuse_floats() -> None:
    with pytest.raises(InputError):
        PaymoInvoiceLine(price_unit=150.0, quantity=Decimal("1"), apply_tax=True)  # type: ignore[arg-type]
