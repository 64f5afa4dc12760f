"""The emulator's invoice arithmetic and `domain.paymo_totals` implement one rule: they must agree."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from paymo_qb_mcp.domain.paymo_totals import PaymoInvoiceHeader, PaymoInvoiceLine, compute_paymo_totals
from paymo_qb_mcp.sandbox.paymo.arithmetic import Line, compute_totals

prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=3)
quantities = st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=4)
rates = st.sampled_from([Decimal(v) for v in ("0", "5", "8.875", "9.975", "13", "20", "7.25", "0.001")])
discounts = st.sampled_from([Decimal(v) for v in ("0", "2.5", "10", "12.345", "33.33", "100")])
lines = st.lists(st.tuples(prices, quantities, st.booleans()), min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(lines, rates, rates, st.booleans(), discounts)
def test_emulator_and_domain_agree(
    raw_lines: list[tuple[Decimal, Decimal, bool]],
    tax: Decimal,
    tax2: Decimal,
    tax_on_tax: bool,
    discount: Decimal,
) -> None:
    emulator = compute_totals(
        [Line(price, quantity, taxed) for price, quantity, taxed in raw_lines],
        tax=tax,
        tax2=tax2,
        tax_on_tax=tax_on_tax,
        discount=discount,
    )
    domain = compute_paymo_totals(
        [PaymoInvoiceLine(price, quantity, taxed) for price, quantity, taxed in raw_lines],
        PaymoInvoiceHeader(tax=tax, tax2=tax2, tax_on_tax=tax_on_tax, discount=discount),
    )
    assert (emulator.subtotal, emulator.discount_amount, emulator.tax_amount, emulator.tax2_amount) == (
        domain.subtotal,
        domain.discount_amount,
        domain.tax_amount,
        domain.tax2_amount,
    )
    assert emulator.total == domain.total
