"""QBO tax arithmetic and the Paymo → QBO mapping: hand-computed figures, money-conservation properties."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paymo_qb_mcp.domain.money import round_half_up
from paymo_qb_mcp.domain.paymo_totals import PaymoInvoiceHeader, PaymoInvoiceLine, compute_paymo_totals
from paymo_qb_mcp.domain.tax import (
    QboDiscount,
    QboInvoiceMapping,
    QboSalesLine,
    QboTaxCode,
    QboTaxRateDetail,
    TaxCodeChoice,
    TaxMapping,
    compute_global_invoice,
    compute_us_invoice,
    fits_qbo_decimal,
    map_invoice_to_qbo,
    qty_and_unit_price,
    totals_differences,
)
from paymo_qb_mcp.errors import InputError

# The demo company's tax table (docs/sandbox.md): GST 5 %, "GST/QST QC - 9.975", Exempt, Zero-rated.
GST = QboTaxRateDetail("1", Decimal("5"), name="GST")
QST = QboTaxRateDetail("2", Decimal("9.975"), order=1, name="QST")
EXEMPT_RATE = QboTaxRateDetail("3", Decimal("0"), name="Exempt")
ZERO_RATE = QboTaxRateDetail("4", Decimal("0"), name="Zero-rated")
TAX_CODES = {
    "10": QboTaxCode("10", "GST", (GST,)),
    "11": QboTaxCode("11", "GST/QST QC - 9.975", (GST, QST)),
    "12": QboTaxCode("12", "Exempt", (EXEMPT_RATE,)),
    "13": QboTaxCode("13", "Zero-rated", (ZERO_RATE,)),
}
DEMO_MAPPING = TaxMapping(
    choices=(
        TaxCodeChoice(Decimal("5"), Decimal("9.975"), "11"),
        TaxCodeChoice(Decimal("5"), Decimal("0"), "10"),
    ),
    exempt_code_id="12",
    tax_codes=TAX_CODES,
)
INV_1035_LINES = [
    PaymoInvoiceLine(Decimal("150"), Decimal("20"), True),
    PaymoInvoiceLine(Decimal("150"), Decimal("12.5"), True),
    PaymoInvoiceLine(Decimal("49.99"), Decimal("1"), False),
]
INV_1035_HEADER = PaymoInvoiceHeader(tax=Decimal("5"), tax2=Decimal("9.975"), discount=Decimal("10"))


def _with(mapping: TaxMapping, **changes: Any) -> TaxMapping:
    return dataclasses.replace(mapping, **changes)


# ---------------------------------------------------------------- QBO arithmetic, by hand


def test_global_tax_is_per_line_per_rate_with_the_discount_spread_pro_rata() -> None:
    # INV-2026-1035 as QBO computes it. Discount factor f = 1 − 492.50 / 4924.99 = 0.89999979695…
    # Design 3000 × f = 2699.99939: GST 134.99997 → 135.00, QST 269.32494 → 269.32.
    # Development 1875 × f = 1687.49962: GST 84.37498 → 84.37, QST 168.32825 → 168.33.
    # GST 219.37 (Paymo 219.38), QST 437.65; TotalAmt 4924.99 − 492.50 + 657.02 = 5089.51.
    lines = [
        QboSalesLine(Decimal("3000.00"), "11"),
        QboSalesLine(Decimal("1875.00"), "11"),
        QboSalesLine(Decimal("49.99"), "12"),
    ]
    totals = compute_global_invoice(
        lines, tax_codes=TAX_CODES, discount=QboDiscount(amount=Decimal("492.50"))
    )
    assert totals.tax_by_rate() == {"1": Decimal("219.37"), "2": Decimal("437.65"), "3": Decimal("0.00")}
    assert totals.total_tax == Decimal("657.02")
    assert totals.total == Decimal("5089.51")
    assert totals.subtotal == Decimal("4924.99")


def test_tax_override_keeps_the_requested_tax_line_amounts() -> None:
    lines = [
        QboSalesLine(Decimal("3000.00"), "11"),
        QboSalesLine(Decimal("1875.00"), "11"),
        QboSalesLine(Decimal("49.99"), "12"),
    ]
    totals = compute_global_invoice(
        lines,
        tax_codes=TAX_CODES,
        discount=QboDiscount(amount=Decimal("492.50")),
        tax_line_override={"1": Decimal("219.38"), "2": Decimal("437.65"), "3": Decimal("0.00")},
    )
    assert totals.total_tax == Decimal("657.03")
    assert totals.total == Decimal("5089.52")


def test_tax_override_on_a_rate_the_invoice_does_not_use_is_refused() -> None:
    with pytest.raises(InputError, match="no line of the invoice uses"):
        compute_global_invoice(
            [QboSalesLine(Decimal("100"), "10")], tax_codes=TAX_CODES, tax_line_override={"2": Decimal("1")}
        )


def test_per_line_rounding_can_exceed_invoice_level_rounding() -> None:
    # quickbooks-api.md §12.5: 9.975 % of 4495.16 is 448.39 on the total; per line it can be 448.40.
    # 1498.38 × 9.975 % = 149.463405 → 149.46; 2996.78 × 9.975 % = 298.928805 → 298.93 → 448.39 … and
    # with three lines 1498.39 + 1498.39 + 1498.38: 149.46440 → 149.46 (×2) + 149.46341 → 149.46 = 448.38.
    lines = [
        QboSalesLine(Decimal("1498.39"), "11"),
        QboSalesLine(Decimal("1498.39"), "11"),
        QboSalesLine(Decimal("1498.38"), "11"),
    ]
    totals = compute_global_invoice(lines, tax_codes=TAX_CODES)
    assert totals.tax_by_rate()["2"] == Decimal("448.38")
    assert round_half_up(Fraction(Decimal("4495.16")) * Fraction(Decimal("9.975")) / 100, 2) == Decimal(
        "448.39"
    )


def test_compound_rate_taxes_the_earlier_tax_of_the_line() -> None:
    pst = QboTaxRateDetail("9", Decimal("10"), applicable="TaxOnAmountPlusTax", order=1)
    codes = {"20": QboTaxCode("20", "GST+PST compound", (GST, pst))}
    # 100 → GST 5.00; PST 10 % of 105.00 = 10.50.
    totals = compute_global_invoice([QboSalesLine(Decimal("100"), "20")], tax_codes=codes)
    assert totals.tax_by_rate() == {"1": Decimal("5.00"), "9": Decimal("10.50")}
    assert totals.total == Decimal("115.50")


def test_percent_discount_is_rounded_on_the_sales_subtotal() -> None:
    # 10 % of 333.33 = 33.333 → 33.33; GST on 333.33 × (1 − 33.33/333.33) = 300.00 → 15.00.
    totals = compute_global_invoice(
        [QboSalesLine(Decimal("333.33"), "10")],
        tax_codes=TAX_CODES,
        discount=QboDiscount(percent=Decimal("10")),
    )
    assert (totals.discount, totals.total_tax, totals.total) == (
        Decimal("33.33"),
        Decimal("15.00"),
        Decimal("315.00"),
    )


def test_discount_before_tax_can_be_switched_off() -> None:
    totals = compute_global_invoice(
        [QboSalesLine(Decimal("100"), "10")],
        tax_codes=TAX_CODES,
        discount=QboDiscount(amount=Decimal("10")),
        apply_tax_after_discount=False,
    )
    assert (totals.total_tax, totals.total) == (Decimal("5.00"), Decimal("95.00"))


def test_tax_inclusive_line_splits_gross_with_r_over_100_plus_r() -> None:
    # 105.00 gross at 5 %: tax = round(105 × 5 / 105) = 5.00, net 100.00.
    # 10.00 gross at 5 %: tax = 0.47619 → 0.48, net 9.52.
    totals = compute_global_invoice(
        [
            QboSalesLine(Decimal("0"), "10", tax_inclusive_amt=Decimal("105.00")),
            QboSalesLine(Decimal("0"), "10", Decimal("10.00")),
        ],
        tax_codes=TAX_CODES,
        calculation="TaxInclusive",
    )
    assert totals.line_amounts == (Decimal("100.00"), Decimal("9.52"))
    assert totals.total_tax == Decimal("5.48")
    assert totals.total == Decimal("115.00")


def test_not_applicable_computes_no_tax() -> None:
    totals = compute_global_invoice(
        [QboSalesLine(Decimal("100"), None)], tax_codes={}, calculation="NotApplicable"
    )
    assert (totals.total_tax, totals.total, totals.tax_lines) == (Decimal("0"), Decimal("100"), ())


def test_missing_or_unknown_tax_code_is_the_6000_situation() -> None:
    with pytest.raises(InputError, match="6000"):
        compute_global_invoice([QboSalesLine(Decimal("100"), None)], tax_codes=TAX_CODES)
    with pytest.raises(InputError, match="not in the tax code table"):
        compute_global_invoice([QboSalesLine(Decimal("100"), "99")], tax_codes=TAX_CODES)


def test_us_ast_rounds_the_discounted_base_then_the_tax() -> None:
    # 1000 TAX, discount 333.33 on 1000 → base 666.67 (rounded), 8.875 % → 59.1669625 → 59.17.
    totals = compute_us_invoice(
        [QboSalesLine(Decimal("1000"), "TAX")],
        rate=Decimal("8.875"),
        discount=QboDiscount(amount=Decimal("333.33")),
    )
    assert totals.tax_lines[0].net_amount_taxable == Decimal("666.67")
    assert totals.total_tax == Decimal("59.17")
    assert totals.total == Decimal("725.84")


def test_us_ast_taxes_the_tax_lines_once_at_the_state_rate() -> None:
    # NY 8.875 %: (1000 + 250) × 8.875 % = 110.9375 → 110.94; the NON line is untaxed.
    lines = [
        QboSalesLine(Decimal("1000"), "TAX"),
        QboSalesLine(Decimal("250"), "TAX"),
        QboSalesLine(Decimal("99"), "NON"),
    ]
    totals = compute_us_invoice(lines, rate=Decimal("8.875"))
    assert (totals.total_tax, totals.total) == (Decimal("110.94"), Decimal("1459.94"))
    overridden = compute_us_invoice(lines, rate=Decimal("8.875"), total_tax_override=Decimal("111.00"))
    assert (overridden.total_tax, overridden.total) == (Decimal("111.00"), Decimal("1460.00"))


def test_us_ast_refuses_global_tax_codes() -> None:
    with pytest.raises(InputError, match="TAX or NON"):
        compute_us_invoice([QboSalesLine(Decimal("1"), "11")], rate=Decimal("5"))


def test_totals_differences_lists_only_what_differs() -> None:
    expected = compute_global_invoice([QboSalesLine(Decimal("100"), "10")], tax_codes=TAX_CODES)
    assert totals_differences(expected, total_amt=Decimal("105.00"), total_tax=Decimal("5.00")) == {}
    assert totals_differences(expected, total_amt=Decimal("105.01"), total_tax=Decimal("5.00")) == {
        "TotalAmt": (Decimal("105.00"), Decimal("105.01"))
    }


# ---------------------------------------------------------------- Qty × UnitPrice (6070)


def test_qty_and_unit_price_sent_as_is_when_they_round_trip() -> None:
    # 1.3333 h × 150 = 199.995 → 200.00 both in Paymo and in QBO's check.
    assert qty_and_unit_price(Decimal("1.3333"), Decimal("150"), Decimal("200.00")) == (
        Decimal("1.3333"),
        Decimal("150"),
        False,
    )


def test_qty_with_too_many_decimals_is_rounded_to_five() -> None:
    # 0.333333 (6 decimals) × 150 = 49.99995 → 50.00; 0.33333 × 150 = 49.9995 → 50.00.
    assert qty_and_unit_price(Decimal("0.333333"), Decimal("150"), Decimal("50.00")) == (
        Decimal("0.33333"),
        Decimal("150"),
        True,
    )


def test_qty_falls_back_to_one_when_nothing_round_trips() -> None:
    # 10000 × 0.1234549 = 1234.549 → 1234.55; with the price at 5 decimals 0.12345 × 10000 = 1234.50.
    assert qty_and_unit_price(Decimal("10000"), Decimal("0.1234549"), Decimal("1234.55")) == (
        Decimal("1"),
        Decimal("1234.55"),
        True,
    )


def test_fits_qbo_decimal_is_the_10_5_format() -> None:
    assert fits_qbo_decimal(Decimal("9999999999.99999"))
    assert not fits_qbo_decimal(Decimal("10000000000"))
    assert not fits_qbo_decimal(Decimal("0.000001"))
    assert fits_qbo_decimal(Decimal("1.500000"))  # trailing zeros are not digits


# ---------------------------------------------------------------- mapping, by hand


def test_mapping_inv_2026_1035_overrides_only_the_gst_line() -> None:
    result = map_invoice_to_qbo(INV_1035_LINES, INV_1035_HEADER, DEMO_MAPPING, currency="CAD")
    assert result.status == "override"
    assert [(line.amount, line.qty, line.unit_price, line.tax_code_id) for line in result.lines] == [
        (Decimal("3000.00"), Decimal("20"), Decimal("150"), "11"),
        (Decimal("1875.00"), Decimal("12.5"), Decimal("150"), "11"),
        (Decimal("49.99"), Decimal("1"), Decimal("49.99"), "12"),
    ]
    assert result.discount_amount == Decimal("492.50")
    assert result.qbo_computed is not None
    assert result.qbo_computed.total == Decimal("5089.51")
    assert result.override is not None
    assert result.override.by_rate() == {"1": Decimal("219.38"), "2": Decimal("437.65"), "3": Decimal("0.00")}
    assert result.override.total_tax == Decimal("657.03")
    assert result.expected is not None
    assert result.expected.total == Decimal("5089.52") == result.paymo.total
    assert result.difference == 0
    assert result.problems == ()


def test_mapping_without_rounding_difference_sends_no_override() -> None:
    lines = [PaymoInvoiceLine(Decimal("6000"), Decimal("1"), True)]  # INV-2026-1036: 300.00 + 598.50
    result = map_invoice_to_qbo(
        lines, PaymoInvoiceHeader(tax=Decimal("5"), tax2=Decimal("9.975")), DEMO_MAPPING, currency="CAD"
    )
    assert result.status == "exact"
    assert result.override is None
    assert result.expected is not None
    assert result.expected.total == Decimal("6898.50")
    assert result.discount_amount is None


def test_untaxed_invoice_of_a_gst_company_puts_the_exempt_code_on_every_line() -> None:
    lines = [
        PaymoInvoiceLine(Decimal("1200"), Decimal("3"), False),
        PaymoInvoiceLine(Decimal("80"), Decimal("2.5"), True),
    ]
    result = map_invoice_to_qbo(lines, PaymoInvoiceHeader(), DEMO_MAPPING, currency="USD")
    assert result.status == "exact"
    assert {line.tax_code_id for line in result.lines} == {"12"}
    assert result.expected is not None
    assert result.expected.total == Decimal("3800.00")


def test_missing_exempt_code_is_reported_not_guessed() -> None:
    result = map_invoice_to_qbo(
        INV_1035_LINES, INV_1035_HEADER, _with(DEMO_MAPPING, exempt_code_id=None), currency="CAD"
    )
    assert result.status == "unrepresentable"
    assert not result.ok
    assert any("6000" in problem for problem in result.problems)


def test_rates_without_a_tax_code_are_reported_with_the_exact_difference() -> None:
    # Paymo charges 13 % (HST); the company has no 13 % code. QBO could charge none of 130.00.
    lines = [PaymoInvoiceLine(Decimal("1000"), Decimal("1"), True)]
    result = map_invoice_to_qbo(lines, PaymoInvoiceHeader(tax=Decimal("13")), DEMO_MAPPING, currency="CAD")
    assert result.status == "unrepresentable"
    assert result.difference == Decimal("-130.00")
    assert "no TaxCode has these rates" in result.problems[0]


def test_a_mapped_code_with_other_rates_reports_what_qbo_would_charge() -> None:
    # Mapping says 5 + 9.975 → code 30, but code 30 charges 5 + 9.5: QBO would total
    # 1000 + 50.00 + 95.00 = 1145.00 against Paymo's 1000 + 50.00 + 99.75 = 1149.75 → −4.75.
    qst_old = QboTaxRateDetail("7", Decimal("9.5"), order=1)
    codes = {**TAX_CODES, "30": QboTaxCode("30", "GST/QST old", (GST, qst_old))}
    mapping = _with(
        DEMO_MAPPING, choices=(TaxCodeChoice(Decimal("5"), Decimal("9.975"), "30"),), tax_codes=codes
    )
    lines = [PaymoInvoiceLine(Decimal("1000"), Decimal("1"), True)]
    result = map_invoice_to_qbo(
        lines, PaymoInvoiceHeader(tax=Decimal("5"), tax2=Decimal("9.975")), mapping, currency="CAD"
    )
    assert result.status == "unrepresentable"
    assert result.difference == Decimal("-4.75")
    assert result.qbo_computed is not None
    assert result.qbo_computed.total == Decimal("1145.00")


def test_an_unmapped_combination_uses_the_single_code_with_the_same_rates() -> None:
    mapping = _with(DEMO_MAPPING, choices=())
    result = map_invoice_to_qbo(INV_1035_LINES, INV_1035_HEADER, mapping, currency="CAD")
    assert result.ok
    assert {line.tax_code_id for line in result.lines} == {"11", "12"}
    assert any("the only one with these rates" in note for note in result.notes)


def test_compound_paymo_tax_needs_a_compound_code() -> None:
    header = PaymoInvoiceHeader(tax=Decimal("5"), tax2=Decimal("9.975"), tax_on_tax=True)
    lines = [PaymoInvoiceLine(Decimal("1000"), Decimal("1"), True)]
    not_compound = _with(
        DEMO_MAPPING, choices=(TaxCodeChoice(Decimal("5"), Decimal("9.975"), "11", tax_on_tax=True),)
    )
    assert map_invoice_to_qbo(lines, header, not_compound, currency="CAD").status == "unrepresentable"
    qst_on_gst = QboTaxRateDetail("2", Decimal("9.975"), applicable="TaxOnAmountPlusTax", order=1)
    codes = {**TAX_CODES, "40": QboTaxCode("40", "GST + QST on GST", (GST, qst_on_gst))}
    compound = _with(
        DEMO_MAPPING, choices=(TaxCodeChoice(Decimal("5"), Decimal("9.975"), "40", True),), tax_codes=codes
    )
    result = map_invoice_to_qbo(lines, header, compound, currency="CAD")
    assert result.status == "exact"
    assert result.expected is not None
    assert result.expected.total == Decimal("1154.74")


def test_not_applicable_cannot_carry_paymo_tax() -> None:
    result = map_invoice_to_qbo(
        INV_1035_LINES, INV_1035_HEADER, _with(DEMO_MAPPING, calculation="NotApplicable"), currency="CAD"
    )
    assert result.status == "unrepresentable"
    assert result.difference == Decimal("-657.03")


def test_tax_inclusive_mapping_keeps_paymo_nets_and_total() -> None:
    mapping = _with(DEMO_MAPPING, calculation="TaxInclusive")
    result = map_invoice_to_qbo(INV_1035_LINES, INV_1035_HEADER, mapping, currency="CAD")
    # Tax-inclusive arithmetic is the least documented: the tax is always stated, never predicted.
    assert result.status == "override"
    # 3000 × 1.14975 = 3449.25; 1875 × 1.14975 = 2155.78125 → 2155.78; Hosting untaxed 49.99.
    assert [line.tax_inclusive_amt for line in result.lines] == [
        Decimal("3449.25"),
        Decimal("2155.78"),
        Decimal("49.99"),
    ]
    assert result.expected is not None
    assert result.expected.line_amounts == (Decimal("3000.00"), Decimal("1875.00"), Decimal("49.99"))
    # Σ gross 5655.02 − 5089.52 = 565.50: Paymo's 492.50 discount plus the tax on it.
    assert result.discount_amount == Decimal("565.50")
    assert (result.expected.total, result.expected.total_tax) == (Decimal("5089.52"), Decimal("657.03"))


def test_us_mapping_overrides_total_tax_when_ast_differs() -> None:
    # Paymo 8.875 % of 4387.50 = 389.390625 → 389.39: AST at 8.875 % agrees → no override.
    header = PaymoInvoiceHeader(tax=Decimal("8.875"), discount=Decimal("10"))
    us = TaxMapping(model="us", us_ast_rate=Decimal("8.875"))
    agreeing = map_invoice_to_qbo(INV_1035_LINES, header, us, currency="USD")
    assert agreeing.status == "exact"
    assert [line.tax_code_id for line in agreeing.lines] == ["TAX", "TAX", "NON"]
    # The ship-to state charges 6 % instead: TotalTax is forced to Paymo's 389.39.
    other_state = map_invoice_to_qbo(
        INV_1035_LINES, header, _with(us, us_ast_rate=Decimal("6")), currency="USD"
    )
    assert other_state.status == "override"
    assert other_state.override is not None
    assert other_state.override.total_tax == Decimal("389.39")
    assert other_state.expected is not None
    assert other_state.expected.total == other_state.paymo.total


def test_us_mapping_with_unknown_rate_always_sends_total_tax() -> None:
    header = PaymoInvoiceHeader(tax=Decimal("8.875"))
    result = map_invoice_to_qbo(INV_1035_LINES, header, TaxMapping(model="us"), currency="USD")
    assert result.status == "override"
    assert result.qbo_computed is None
    assert result.override is not None
    assert result.override.total_tax == result.paymo.total_tax


def test_amounts_finer_than_the_currency_are_reported() -> None:
    lines = [PaymoInvoiceLine(Decimal("1000.50"), Decimal("1"), False)]
    result = map_invoice_to_qbo(lines, PaymoInvoiceHeader(), DEMO_MAPPING, currency="JPY")
    assert result.status == "unrepresentable"
    assert "more decimals than JPY" in result.problems[0]


# ---------------------------------------------------------------- money is conserved (properties)

quantities = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("500"), places=4, allow_nan=False, allow_infinity=False
)
prices = st.one_of(
    st.decimals(
        min_value=Decimal("0"), max_value=Decimal("20000"), places=2, allow_nan=False, allow_infinity=False
    ),
    st.decimals(
        min_value=Decimal("0"), max_value=Decimal("1000"), places=4, allow_nan=False, allow_infinity=False
    ),
)
paymo_lines = st.lists(
    st.builds(PaymoInvoiceLine, price_unit=prices, quantity=quantities, apply_tax=st.booleans()),
    min_size=1,
    max_size=8,
)
rates = st.one_of(
    st.sampled_from(
        [
            Decimal("0"),
            Decimal("5"),
            Decimal("7"),
            Decimal("8.875"),
            Decimal("9.975"),
            Decimal("13"),
            Decimal("15"),
            Decimal("20"),
        ]
    ),
    st.decimals(
        min_value=Decimal("0"), max_value=Decimal("30"), places=3, allow_nan=False, allow_infinity=False
    ),
)
discounts = st.one_of(
    st.just(Decimal("0")),
    st.decimals(
        min_value=Decimal("0"), max_value=Decimal("100"), places=2, allow_nan=False, allow_infinity=False
    ),
)
headers = st.builds(PaymoInvoiceHeader, tax=rates, tax2=rates, tax_on_tax=st.booleans(), discount=discounts)


def _mapping_for(header: PaymoInvoiceHeader, calculation: str) -> TaxMapping:
    """A company whose TaxCode charges exactly Paymo's rates (as the tax mapping would say)."""
    first = QboTaxRateDetail("r1", header.tax, order=0)
    second = QboTaxRateDetail(
        "r2", header.tax2, applicable="TaxOnAmountPlusTax" if header.tax_on_tax else "TaxOnAmount", order=1
    )
    code = QboTaxCode("T", "Paymo rates", tuple(rate for rate in (first, second) if rate.rate_value != 0))
    codes = {"T": code, "E": QboTaxCode("E", "Exempt", (QboTaxRateDetail("r0", Decimal("0")),))}
    choice = TaxCodeChoice(header.tax, header.tax2, "T", header.tax_on_tax)
    return TaxMapping(calculation=calculation, choices=(choice,), exempt_code_id="E", tax_codes=codes)  # type: ignore[arg-type]


def _assert_conserves_money(
    result: QboInvoiceMapping, lines: list[PaymoInvoiceLine], header: PaymoInvoiceHeader
) -> None:
    paymo = compute_paymo_totals(lines, header)
    assert result.ok, result.problems
    assert result.expected is not None
    assert result.expected.total == paymo.total
    assert result.expected.total_tax == paymo.total_tax
    assert result.difference == 0
    for line in result.lines:
        # QBO's 6070 rule holds for every line we send.
        assert round_half_up(Fraction(line.qty) * Fraction(line.unit_price), 2) == line.amount
        assert fits_qbo_decimal(line.qty)
        assert fits_qbo_decimal(line.unit_price)
    assert sum((line.amount for line in result.lines), Decimal(0)) == paymo.subtotal


def _paymo_tax_by_rate(result: QboInvoiceMapping) -> dict[str, Decimal]:
    """Paymo's tax per QBO rate of the generated company (r1 = tax, r2 = tax2, r0 = exempt)."""
    wanted = {"r1": result.paymo.tax_amount, "r2": result.paymo.tax2_amount}
    assert result.qbo_computed is not None
    return {rate: wanted.get(rate, amount) for rate, amount in result.qbo_computed.tax_by_rate().items()}


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(lines=paymo_lines, header=headers)
def test_global_tax_excluded_mapping_never_loses_or_invents_a_cent(
    lines: list[PaymoInvoiceLine], header: PaymoInvoiceHeader
) -> None:
    result = map_invoice_to_qbo(lines, header, _mapping_for(header, "TaxExcluded"), currency="CAD")
    _assert_conserves_money(result, lines, header)
    assert result.discount_amount == (result.paymo.discount_amount or None)
    assert result.expected is not None
    assert result.expected.line_amounts == result.paymo.line_amounts
    # The override is sent exactly when QBO's own per-rate tax would differ from Paymo's.
    assert result.qbo_computed is not None
    assert (result.override is None) == (result.qbo_computed.tax_by_rate() == _paymo_tax_by_rate(result))


@PROPERTY_SETTINGS
@given(lines=paymo_lines, header=headers)
def test_global_tax_inclusive_mapping_never_loses_or_invents_a_cent(
    lines: list[PaymoInvoiceLine], header: PaymoInvoiceHeader
) -> None:
    result = map_invoice_to_qbo(lines, header, _mapping_for(header, "TaxInclusive"), currency="CAD")
    _assert_conserves_money(result, lines, header)
    for line in result.lines:
        assert line.tax_inclusive_amt is not None


@PROPERTY_SETTINGS
@given(lines=paymo_lines, header=headers, ast_rate=st.one_of(st.none(), rates))
def test_us_mapping_never_loses_or_invents_a_cent(
    lines: list[PaymoInvoiceLine], header: PaymoInvoiceHeader, ast_rate: Decimal | None
) -> None:
    result = map_invoice_to_qbo(lines, header, TaxMapping(model="us", us_ast_rate=ast_rate), currency="USD")
    _assert_conserves_money(result, lines, header)
