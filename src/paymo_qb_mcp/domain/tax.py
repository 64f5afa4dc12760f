"""QBO tax arithmetic (global TaxCode/TaxRate and US AST models) and the cent-exact Paymo → QBO mapping.

Two halves:

* ``compute_global_invoice`` / ``compute_us_invoice`` reproduce what QBO computes for an invoice we
  send, following docs/sandbox.md (the emulator implements the same rules independently);
* ``map_invoice_to_qbo`` turns a Paymo invoice into the QBO lines, discount line and, when QBO's
  per-line rounding would land elsewhere than Paymo's invoice-level rounding, the tax override that
  makes QBO's ``TotalAmt`` equal Paymo's ``total`` to the cent. When no override can do that, the
  result says so, with the exact difference, instead of picking something close.

Amounts are rounded half-up to the currency's minor unit, once, from exact rational intermediates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from paymo_qb_mcp.domain.money import ZERO, minor_unit, quantize, round_half_up, to_decimal
from paymo_qb_mcp.domain.paymo_totals import (
    PaymoInvoiceHeader,
    PaymoInvoiceLine,
    PaymoInvoiceTotals,
    compute_paymo_totals,
)
from paymo_qb_mcp.errors import InputError

__all__ = [
    "AST_NON_TAXABLE",
    "AST_TAXABLE",
    "GlobalTaxCalculation",
    "MappedLine",
    "MappingStatus",
    "QboDiscount",
    "QboInvoiceMapping",
    "QboInvoiceTotals",
    "QboSalesLine",
    "QboTaxCode",
    "QboTaxLine",
    "QboTaxRateDetail",
    "TaxCodeChoice",
    "TaxMapping",
    "TaxModel",
    "TaxOverride",
    "TaxTypeApplicable",
    "compute_global_invoice",
    "compute_us_invoice",
    "fits_qbo_decimal",
    "map_invoice_to_qbo",
    "qty_and_unit_price",
    "totals_differences",
]

TaxModel = Literal["global", "us"]
GlobalTaxCalculation = Literal["TaxExcluded", "TaxInclusive", "NotApplicable"]
TaxTypeApplicable = Literal["TaxOnAmount", "TaxOnAmountPlusTax", "TaxOnTax"]
MappingStatus = Literal["exact", "override", "unrepresentable"]

# AST pseudo tax codes: a US line is either taxable or not; AST picks the rate.
AST_TAXABLE: Final = "TAX"
AST_NON_TAXABLE: Final = "NON"
# AST's single aggregated tax line has no TaxRate Id we can know in advance.
_AST_RATE_ID: Final = "AST"

# QBO amount fields: "max 15 digits in 10.5 format" (10 integer + 5 fractional digits).
_QBO_INTEGER_DIGITS: Final = 10
_QBO_FRACTION_DIGITS: Final = 5

_HUNDRED: Final = Fraction(100)


# --------------------------------------------------------------------------------------------
# The QBO side: tax codes, lines, and what QBO computes from them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QboTaxRateDetail:
    """One entry of a TaxCode's ``SalesTaxRateList``, joined with its TaxRate's ``RateValue`` (percent)."""

    rate_id: str
    rate_value: Decimal
    applicable: TaxTypeApplicable = "TaxOnAmount"
    order: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_value", to_decimal(self.rate_value))

    @property
    def compounds(self) -> bool:
        """True when the rate also taxes the earlier rates' tax (TaxOnAmountPlusTax, TaxOnTax)."""
        return self.applicable != "TaxOnAmount"


@dataclass(frozen=True)
class QboTaxCode:
    """A QBO TaxCode as read from ``/taxcode`` + ``/taxrate`` (global model)."""

    id: str
    name: str
    rates: tuple[QboTaxRateDetail, ...] = ()
    active: bool = True

    @property
    def ordered_rates(self) -> tuple[QboTaxRateDetail, ...]:
        """Rates in ``TaxOrder`` (stable for equal orders), the order compounding follows."""
        return tuple(sorted(self.rates, key=lambda rate: rate.order))

    @property
    def total_percent(self) -> Decimal:
        return sum((rate.rate_value for rate in self.rates), ZERO)


@dataclass(frozen=True)
class QboSalesLine:
    """A ``SalesItemLineDetail`` line as far as tax is concerned.

    ``amount`` is the net ``Amount``. Under ``TaxInclusive`` a line may give ``tax_inclusive_amt``
    (gross) instead; QBO then derives the net from it. ``tax_code_id`` is a TaxCode Id (global) or
    ``TAX``/``NON`` (US).
    """

    amount: Decimal
    tax_code_id: str | None
    tax_inclusive_amt: Decimal | None = None


@dataclass(frozen=True)
class QboDiscount:
    """A ``DiscountLineDetail`` line: either ``percent`` (PercentBased) or a fixed ``amount``."""

    amount: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.amount is None) == (self.percent is None):
            raise InputError(
                "a QBO discount line is either percent-based or a fixed amount, not both/neither"
            )


@dataclass(frozen=True)
class QboTaxLine:
    """One ``TxnTaxDetail.TaxLine``: the tax of one rate over the whole invoice."""

    rate_id: str
    percent: Decimal
    net_amount_taxable: Decimal
    amount: Decimal


@dataclass(frozen=True)
class QboInvoiceTotals:
    """What QBO stores for an invoice: net line amounts, discount, tax lines, ``TotalTax``, ``TotalAmt``."""

    line_amounts: tuple[Decimal, ...]
    subtotal: Decimal
    discount: Decimal
    tax_lines: tuple[QboTaxLine, ...]
    total_tax: Decimal
    total: Decimal

    def tax_by_rate(self) -> dict[str, Decimal]:
        return {line.rate_id: line.amount for line in self.tax_lines}


def _discount_amount(discount: QboDiscount | None, subtotal: Decimal, currency: str) -> Decimal:
    if discount is None:
        return ZERO
    if discount.percent is not None:
        return round_half_up(Fraction(subtotal) * Fraction(discount.percent) / _HUNDRED, minor_unit(currency))
    assert discount.amount is not None  # guaranteed by QboDiscount.__post_init__
    return discount.amount


def _discount_factor(discount: Decimal, subtotal: Decimal, apply_tax_after_discount: bool) -> Fraction:
    # GUESS (docs/sandbox.md): QBO spreads an invoice-level discount over the lines in proportion to
    # their amounts before taxing them; the factor stays exact until each line's tax is rounded.
    if not apply_tax_after_discount or discount == 0 or subtotal == 0:
        return Fraction(1)
    return 1 - Fraction(discount) / Fraction(subtotal)


def _marginals(code: QboTaxCode) -> list[Fraction]:
    """Each rate's tax per unit of net, in TaxOrder; a compounding rate also taxes the earlier rates."""
    result: list[Fraction] = []
    tax_so_far = Fraction(0)
    for rate in code.ordered_rates:
        base = 1 + tax_so_far if rate.compounds else Fraction(1)
        marginal = base * Fraction(rate.rate_value) / _HUNDRED
        result.append(marginal)
        tax_so_far += marginal
    return result


def _forward_taxes(
    net_for_tax: Fraction, code: QboTaxCode, places: int
) -> list[tuple[QboTaxRateDetail, Fraction, Decimal]]:
    """Tax of one line from its net, per rate in order; a compounding rate adds the earlier rounded tax."""
    taxes: list[tuple[QboTaxRateDetail, Fraction, Decimal]] = []
    tax_so_far = ZERO
    for rate in code.ordered_rates:
        taxable = net_for_tax + Fraction(tax_so_far) if rate.compounds else net_for_tax
        tax = round_half_up(taxable * Fraction(rate.rate_value) / _HUNDRED, places)
        taxes.append((rate, taxable, tax))
        tax_so_far += tax
    return taxes


def _embedded_tax(gross: Decimal, code: QboTaxCode, places: int) -> Decimal:
    """Tax contained in a tax-inclusive amount: Σ per rate of round(gross × marginal / (1 + Σ marginals)).

    For a single rate r each term is the documented round(gross × r / (100 + r)); for several
    simple rates, round(gross × r / (100 + Σ r)). GUESS: a compounding rate's share includes the
    earlier rates (the docs only state the single-rate formula).
    """
    marginals = _marginals(code)
    multiplier = 1 + sum(marginals, Fraction(0))
    return sum(
        (round_half_up(Fraction(gross) * marginal / multiplier, places) for marginal in marginals), ZERO
    )


@dataclass
class _TaxAccumulator:
    percent: Decimal
    net_taxable: Fraction = Fraction(0)
    amount: Decimal = ZERO


def _lookup_code(tax_codes: Mapping[str, QboTaxCode], code_id: str | None, line_index: int) -> QboTaxCode:
    if code_id is None:
        raise InputError(
            f"line {line_index + 1} has no TaxCodeRef; a VAT/GST company needs a tax code on every line "
            "(QBO error 6000)",
            field_name="TaxCodeRef",
        )
    try:
        return tax_codes[code_id]
    except KeyError:
        raise InputError(
            f"line {line_index + 1} references TaxCode {code_id!r}, which is not in the tax code table",
            field_name="TaxCodeRef",
        ) from None


def _apply_override(computed: dict[str, _TaxAccumulator], override: Mapping[str, Decimal]) -> None:
    """Replace the computed amounts of the rates a request's ``TxnTaxDetail.TaxLine`` names."""
    unknown = sorted(set(override) - set(computed))
    if unknown:
        # GUESS (docs/sandbox.md): QBO keeps TaxLine amounts only for rates the invoice's lines use.
        raise InputError(
            f"tax override names rate(s) {', '.join(unknown)} that no line of the invoice uses",
            field_name="TxnTaxDetail.TaxLine",
        )
    for rate_id, amount in override.items():
        computed[rate_id].amount = amount


def compute_global_invoice(
    lines: Sequence[QboSalesLine],
    *,
    tax_codes: Mapping[str, QboTaxCode],
    calculation: GlobalTaxCalculation = "TaxExcluded",
    discount: QboDiscount | None = None,
    apply_tax_after_discount: bool = True,
    tax_line_override: Mapping[str, Decimal] | None = None,
    currency: str = "CAD",
) -> QboInvoiceTotals:
    """QBO's totals for an invoice of a non-US company (TaxCode/TaxRate model).

    Per line and per rate of the line's TaxCode (in ``TaxOrder``): tax = half-up round of
    ``net × discount factor × RateValue / 100``, compounding rates adding the earlier rates' tax
    of that line to the base. ``TaxLine`` aggregates per rate; ``TotalTax`` is their sum;
    ``TotalAmt`` = Σ net − discount + ``TotalTax`` (TaxExcluded) or Σ gross − discount
    (TaxInclusive). ``tax_line_override`` (rate Id → amount) stands for a request carrying
    ``TxnTaxDetail.TaxLine`` amounts, which QBO keeps instead of its own.
    """
    places = minor_unit(currency)
    if calculation == "NotApplicable":
        amounts = tuple(line.amount for line in lines)
        untaxed_subtotal = sum(amounts, ZERO)
        untaxed_discount = _discount_amount(discount, untaxed_subtotal, currency)
        return QboInvoiceTotals(
            amounts, untaxed_subtotal, untaxed_discount, (), ZERO, untaxed_subtotal - untaxed_discount
        )

    codes = [_lookup_code(tax_codes, line.tax_code_id, index) for index, line in enumerate(lines)]
    inclusive = [calculation == "TaxInclusive" and line.tax_inclusive_amt is not None for line in lines]

    # The discount (percent-based or fixed) and its pro-rata factor refer to the line Amounts as
    # sent, before any tax-inclusive back-out (docs/sandbox.md: "Σ sales-line amounts").
    sent_subtotal = sum((line.amount for line in lines), ZERO)
    discount_amount = _discount_amount(discount, sent_subtotal, currency)
    factor = _discount_factor(discount_amount, sent_subtotal, apply_tax_after_discount)

    nets: list[Decimal] = []
    gross_total = ZERO
    accumulators: dict[str, _TaxAccumulator] = {}
    for line, code, from_gross in zip(lines, codes, inclusive, strict=True):
        if from_gross:
            # Under TaxInclusive the net is the gross less its embedded tax; the tax itself is then
            # taken from that net like any other line.
            assert line.tax_inclusive_amt is not None
            net = line.tax_inclusive_amt - _embedded_tax(line.tax_inclusive_amt, code, places)
            gross_total += line.tax_inclusive_amt
        else:
            net = line.amount
            if calculation == "TaxInclusive":
                # GUESS (docs/sandbox.md): a TaxInclusive line sent without TaxInclusiveAmt is net;
                # its gross is the net plus its own undiscounted tax.
                own_tax = _forward_taxes(Fraction(net), code, places)
                gross_total += net + sum((tax for _, _, tax in own_tax), ZERO)
        nets.append(net)
        for rate, taxable, tax in _forward_taxes(Fraction(net) * factor, code, places):
            acc = accumulators.setdefault(rate.rate_id, _TaxAccumulator(rate.rate_value))
            acc.net_taxable += taxable
            acc.amount += tax

    if tax_line_override is not None:
        _apply_override(accumulators, tax_line_override)
    tax_lines = tuple(
        QboTaxLine(rate_id, acc.percent, round_half_up(acc.net_taxable, places), acc.amount)
        for rate_id, acc in accumulators.items()
    )
    total_tax = sum((line.amount for line in tax_lines), ZERO)
    subtotal = sum(nets, ZERO)
    if calculation == "TaxInclusive":
        # GUESS (docs/sandbox.md): the gross amounts already contain the tax.
        total = gross_total - discount_amount
    else:
        total = subtotal - discount_amount + total_tax
    return QboInvoiceTotals(tuple(nets), subtotal, discount_amount, tax_lines, total_tax, total)


def compute_us_invoice(
    lines: Sequence[QboSalesLine],
    *,
    rate: Decimal | None,
    discount: QboDiscount | None = None,
    apply_tax_after_discount: bool = True,
    total_tax_override: Decimal | None = None,
    currency: str = "USD",
) -> QboInvoiceTotals:
    """QBO's totals for a US company under Automated Sales Tax.

    Lines are ``TAX`` or ``NON``; AST applies one ``rate`` (percent, chosen from the ship-to
    address) to the taxable lines: tax = round(round(Σ TAX amounts × discount factor) × rate / 100).
    ``total_tax_override`` stands for a request carrying ``TxnTaxDetail.TotalTax``, which AST honours.
    """
    places = minor_unit(currency)
    for index, line in enumerate(lines):
        if line.tax_code_id not in (AST_TAXABLE, AST_NON_TAXABLE):
            raise InputError(
                f"line {index + 1}: a US (AST) invoice line is {AST_TAXABLE} or {AST_NON_TAXABLE}, "
                f"not {line.tax_code_id!r}",
                field_name="TaxCodeRef",
            )
    nets = tuple(line.amount for line in lines)
    subtotal = sum(nets, ZERO)
    discount_amount = _discount_amount(discount, subtotal, currency)
    factor = _discount_factor(discount_amount, subtotal, apply_tax_after_discount)
    taxable = sum((line.amount for line in lines if line.tax_code_id == AST_TAXABLE), ZERO)
    # GUESS (docs/sandbox.md, as the emulator does): AST takes an invoice discount off the taxable
    # amount pro rata, rounds that base to cents, then rounds the tax once for the invoice.
    net_taxable = round_half_up(Fraction(taxable) * factor, places)
    if total_tax_override is not None:
        total_tax = total_tax_override
    elif taxable == 0:
        total_tax = ZERO
    elif rate is None:
        raise InputError("the AST rate is needed to compute US sales tax without a TotalTax override")
    else:
        total_tax = round_half_up(Fraction(net_taxable) * Fraction(rate) / _HUNDRED, places)
    has_tax_line = taxable != 0 or total_tax_override is not None
    tax_lines = (
        (
            QboTaxLine(
                _AST_RATE_ID,
                rate if rate is not None else ZERO,
                net_taxable,
                total_tax,
            ),
        )
        if has_tax_line
        else ()
    )
    return QboInvoiceTotals(
        nets, subtotal, discount_amount, tax_lines, total_tax, subtotal - discount_amount + total_tax
    )


def totals_differences(
    expected: QboInvoiceTotals, *, total_amt: Decimal, total_tax: Decimal, currency: str = "CAD"
) -> dict[str, tuple[Decimal, Decimal]]:
    """Cent-exact comparison of a read-back with what the plan expected: field → (expected, actual).

    Empty when they agree; suitable for ``ReconciliationError(differences=...)``.
    """
    differences: dict[str, tuple[Decimal, Decimal]] = {}
    for name, wanted, actual in (
        ("TotalAmt", expected.total, total_amt),
        ("TotalTax", expected.total_tax, total_tax),
    ):
        if quantize(wanted, currency) != quantize(actual, currency):
            differences[name] = (wanted, actual)
    return differences


# --------------------------------------------------------------------------------------------
# Quantity × unit price (QBO error 6070)
# --------------------------------------------------------------------------------------------


def fits_qbo_decimal(value: Decimal) -> bool:
    """True when ``value`` fits QBO's amount format: at most 10 integer and 5 fractional digits."""
    if not value.is_finite():
        return False
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite values have an int exponent
    fraction_digits = max(0, -exponent)
    integer_digits = len(str(abs(int(value))))
    return fraction_digits <= _QBO_FRACTION_DIGITS and integer_digits <= _QBO_INTEGER_DIGITS


def qty_and_unit_price(
    quantity: Decimal, price_unit: Decimal, amount: Decimal, currency: str = "CAD"
) -> tuple[Decimal, Decimal, bool]:
    """Choose the ``Qty`` and ``UnitPrice`` to send with a line ``Amount``; the flag says they were altered.

    QBO rejects a sales line whose ``Amount`` differs from ``round(Qty × UnitPrice)`` to the
    currency's precision (error 6070) and keeps at most 5 fractional digits. The rule, in order:

    1. Paymo's quantity and unit price, when both fit QBO's 10.5 format and round-trip to ``amount``;
    2. the same with the unit price rounded to 5 decimals, then also the quantity;
    3. otherwise ``Qty = 1`` and ``UnitPrice = Amount``, which always round-trips; the line keeps
       its amount, the human-readable quantity moves to the description (the caller's choice).
    """

    def round_trips(qty: Decimal, price: Decimal) -> bool:
        return (
            fits_qbo_decimal(qty)
            and fits_qbo_decimal(price)
            and round_half_up(Fraction(qty) * Fraction(price), minor_unit(currency)) == amount
        )

    if round_trips(quantity, price_unit):
        return quantity, price_unit, False
    price_5 = round_half_up(price_unit, _QBO_FRACTION_DIGITS).normalize()
    if round_trips(quantity, price_5):
        return quantity, price_5, True
    quantity_5 = round_half_up(quantity, _QBO_FRACTION_DIGITS).normalize()
    if round_trips(quantity_5, price_5):
        return quantity_5, price_5, True
    return Decimal(1), amount, True


# --------------------------------------------------------------------------------------------
# Paymo → QBO mapping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxCodeChoice:
    """One row of the tax mapping: the QBO TaxCode for a Paymo ``tax``/``tax2`` combination."""

    tax: Decimal
    tax2: Decimal
    tax_code_id: str
    tax_on_tax: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tax", to_decimal(self.tax))
        object.__setattr__(self, "tax2", to_decimal(self.tax2))

    def matches(self, tax: Decimal, tax2: Decimal, tax_on_tax: bool) -> bool:
        # tax_on_tax only means something when both taxes are charged.
        compound_matters = tax != 0 and tax2 != 0
        return (
            self.tax == tax and self.tax2 == tax2 and (not compound_matters or self.tax_on_tax == tax_on_tax)
        )


@dataclass(frozen=True)
class TaxMapping:
    """What the sync knows about the QBO company's taxes (from policies.yaml plus reads of QBO).

    * ``model``: ``global`` (TaxCode/TaxRate) or ``us`` (AST);
    * ``calculation``: the ``GlobalTaxCalculation`` to send (global model);
    * ``choices``: Paymo tax/tax2 percentages → TaxCode Id for taxed lines;
    * ``exempt_code_id``: the exempt/zero-rated TaxCode for untaxed lines (a VAT/GST company needs
      a code on every line);
    * ``tax_codes``: the TaxCode table with rates as read from QBO (Id → code);
    * ``us_ast_rate``: the rate AST is expected to apply (percent), or None when unknown — then
      the US mapping always sends a ``TotalTax`` override.
    """

    model: TaxModel = "global"
    calculation: GlobalTaxCalculation = "TaxExcluded"
    choices: tuple[TaxCodeChoice, ...] = ()
    exempt_code_id: str | None = None
    tax_codes: Mapping[str, QboTaxCode] = field(default_factory=dict)
    us_ast_rate: Decimal | None = None
    apply_tax_after_discount: bool = True

    def code_for(self, tax: Decimal, tax2: Decimal, tax_on_tax: bool) -> str | None:
        """The configured TaxCode Id for this Paymo combination, if any."""
        for choice in self.choices:
            if choice.matches(tax, tax2, tax_on_tax):
                return choice.tax_code_id
        return None


@dataclass(frozen=True)
class MappedLine:
    """A QBO sales line built from Paymo line ``paymo_line_index`` (0-based)."""

    paymo_line_index: int
    amount: Decimal
    qty: Decimal
    unit_price: Decimal
    tax_code_id: str | None
    tax_inclusive_amt: Decimal | None = None
    qty_adjusted: bool = False

    def as_sales_line(self) -> QboSalesLine:
        return QboSalesLine(self.amount, self.tax_code_id, self.tax_inclusive_amt)


@dataclass(frozen=True)
class TaxOverride:
    """The tax to impose on QBO: ``TxnTaxDetail.TaxLine`` amounts (global) or ``TotalTax`` (US)."""

    total_tax: Decimal
    tax_lines: tuple[QboTaxLine, ...] = ()

    def by_rate(self) -> dict[str, Decimal]:
        return {line.rate_id: line.amount for line in self.tax_lines}


@dataclass(frozen=True)
class QboInvoiceMapping:
    """The QBO invoice that reproduces a Paymo invoice, and the proof that it does.

    ``status``: ``exact`` (QBO's own arithmetic gives Paymo's figures), ``override`` (it does with
    the tax override), ``unrepresentable`` (no valid invoice gives Paymo's total: see ``problems``
    and ``difference`` = QBO total − Paymo total as far as it can be computed).
    """

    status: MappingStatus
    model: TaxModel
    calculation: GlobalTaxCalculation | None
    currency: str
    lines: tuple[MappedLine, ...]
    discount_amount: Decimal | None
    paymo: PaymoInvoiceTotals
    qbo_computed: QboInvoiceTotals | None
    override: TaxOverride | None
    expected: QboInvoiceTotals | None
    difference: Decimal
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "unrepresentable"

    @property
    def discount(self) -> QboDiscount | None:
        return QboDiscount(amount=self.discount_amount) if self.discount_amount is not None else None


def _assign_rates(code: QboTaxCode, header: PaymoInvoiceHeader) -> dict[str, str] | None:
    """Which of the code's rates carries Paymo's ``tax`` and ``tax2``, or None when the rates differ."""
    charged = [(name, value) for name, value in (("tax", header.tax), ("tax2", header.tax2)) if value != 0]
    code_rates = [rate for rate in code.ordered_rates if rate.rate_value != 0]
    if len(code_rates) != len(charged):
        return None
    if len(charged) == 2 and header.tax_on_tax:
        first, second = code_rates
        if (first.rate_value, second.rate_value) != (header.tax, header.tax2):
            return None
        if first.compounds or not second.compounds:
            return None
        return {"tax": first.rate_id, "tax2": second.rate_id}
    if any(rate.compounds for rate in code_rates[1:]):
        return None
    assignment: dict[str, str] = {}
    unused = list(code_rates)
    for name, value in charged:
        match = next((rate for rate in unused if rate.rate_value == value), None)
        if match is None:
            return None
        unused.remove(match)
        assignment[name] = match.rate_id
    return assignment


def _describe_rates(header: PaymoInvoiceHeader) -> str:
    parts = [f"{value}%" for value in (header.tax, header.tax2) if value != 0]
    compound = " (compound)" if header.tax_on_tax and len(parts) == 2 else ""
    return " + ".join(parts) + compound


def _describe_code(code: QboTaxCode) -> str:
    rates = ", ".join(
        f"{rate.rate_value}%{' on amount+tax' if rate.compounds else ''}" for rate in code.ordered_rates
    )
    return f"TaxCode {code.id} {code.name!r} ({rates or 'no rates'})"


def map_invoice_to_qbo(
    lines: Sequence[PaymoInvoiceLine],
    header: PaymoInvoiceHeader,
    mapping: TaxMapping,
    *,
    currency: str,
) -> QboInvoiceMapping:
    """Build the QBO invoice lines, discount line and tax override that reproduce a Paymo invoice to the cent.

    The discount is always a fixed-amount line equal to Paymo's ``discount_amount``; untaxed lines
    get the exempt code (global) or ``NON`` (US). The override is sent only when QBO's own
    arithmetic differs from Paymo's tax; its amounts are Paymo's ``tax_amount``/``tax2_amount``
    on the rates that carry them.
    """
    paymo = compute_paymo_totals(lines, header)
    places = minor_unit(currency)
    problems: list[str] = []
    notes: list[str] = []

    for index, amount in enumerate(paymo.line_amounts):
        if not fits_qbo_decimal(amount):
            problems.append(f"line {index + 1}: amount {amount} exceeds QuickBooks' 10-digit amounts")
        elif quantize(amount, currency) != amount:
            problems.append(
                f"line {index + 1}: Paymo amount {amount} has more decimals than {currency} allows "
                "in QuickBooks"
            )
    charged = header.tax != 0 or header.tax2 != 0
    taxed = [charged and line.apply_tax for line in lines]
    discount_amount = paymo.discount_amount if paymo.discount_amount != 0 else None
    discount = QboDiscount(amount=discount_amount) if discount_amount is not None else None

    built: list[tuple[int, Decimal, Decimal, Decimal, bool]] = []
    for index, (line, amount) in enumerate(zip(lines, paymo.line_amounts, strict=True)):
        qty, unit_price, adjusted = qty_and_unit_price(line.quantity, line.price_unit, amount, currency)
        if adjusted:
            notes.append(
                f"line {index + 1}: {line.quantity} × {line.price_unit} does not round-trip in QuickBooks; "
                f"sent as Qty {qty} × UnitPrice {unit_price} = {amount}"
            )
        built.append((index, amount, qty, unit_price, adjusted))

    if mapping.model == "us":
        return _map_us(paymo, mapping, currency, built, taxed, discount, problems, notes)
    return _map_global(paymo, header, mapping, currency, places, built, taxed, discount, problems, notes)


def _mapping_result(
    paymo: PaymoInvoiceTotals,
    mapping: TaxMapping,
    currency: str,
    lines: tuple[MappedLine, ...],
    discount: QboDiscount | None,
    computed: QboInvoiceTotals | None,
    notes: Iterable[str],
    *,
    override: TaxOverride | None = None,
    expected: QboInvoiceTotals | None = None,
    difference: Decimal = ZERO,
    problems: Iterable[str] = (),
) -> QboInvoiceMapping:
    """The mapping, ``unrepresentable`` unless QBO is ``expected`` to reproduce Paymo (with ``override``
    when its own arithmetic would not)."""
    status: MappingStatus = "unrepresentable" if expected is None else "override" if override else "exact"
    return QboInvoiceMapping(
        status=status,
        model=mapping.model,
        calculation=mapping.calculation if mapping.model == "global" else None,
        currency=currency,
        lines=lines,
        discount_amount=discount.amount if discount else None,
        paymo=paymo,
        qbo_computed=computed,
        override=override,
        expected=expected,
        difference=difference,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def _map_us(
    paymo: PaymoInvoiceTotals,
    mapping: TaxMapping,
    currency: str,
    built: list[tuple[int, Decimal, Decimal, Decimal, bool]],
    taxed: list[bool],
    discount: QboDiscount | None,
    problems: list[str],
    notes: list[str],
) -> QboInvoiceMapping:
    mapped = tuple(
        MappedLine(
            index, amount, qty, price, AST_TAXABLE if taxed[index] else AST_NON_TAXABLE, None, adjusted
        )
        for index, amount, qty, price, adjusted in built
    )
    sales_lines = [line.as_sales_line() for line in mapped]
    has_taxable_line = any(line.tax_code_id == AST_TAXABLE and line.amount != 0 for line in mapped)

    def compute(override: Decimal | None, rate: Decimal | None) -> QboInvoiceTotals:
        return compute_us_invoice(
            sales_lines,
            rate=rate,
            discount=discount,
            apply_tax_after_discount=mapping.apply_tax_after_discount,
            total_tax_override=override,
            currency=currency,
        )

    if problems:
        forced = compute(paymo.total_tax, mapping.us_ast_rate)
        return _mapping_result(
            paymo,
            mapping,
            currency,
            mapped,
            discount,
            forced,
            notes,
            difference=forced.total - paymo.total,
            problems=problems,
        )
    computed: QboInvoiceTotals | None
    if has_taxable_line and mapping.us_ast_rate is None:
        computed = None
        notes.append("AST's rate for this ship-to address is not known: TotalTax is always sent")
        needs_override = True
    else:
        computed = compute(None, mapping.us_ast_rate if has_taxable_line else ZERO)
        needs_override = computed.total_tax != paymo.total_tax
    override = TaxOverride(total_tax=paymo.total_tax) if needs_override else None
    expected = compute(override.total_tax, mapping.us_ast_rate) if override else computed
    assert expected is not None
    difference = expected.total - paymo.total
    if difference != 0:
        problems.append(
            f"QuickBooks total {expected.total} differs from Paymo total {paymo.total} by {difference}"
        )
        return _mapping_result(
            paymo,
            mapping,
            currency,
            mapped,
            discount,
            computed,
            notes,
            difference=difference,
            problems=problems,
        )
    return _mapping_result(
        paymo, mapping, currency, mapped, discount, computed, notes, override=override, expected=expected
    )


def _gross_for_net(net: Decimal, code: QboTaxCode, places: int) -> tuple[Decimal, bool]:
    """The gross whose QBO tax-inclusive split gives back ``net`` exactly, if a nearby one exists."""
    multiplier = 1 + sum(_marginals(code), Fraction(0))
    nearest = round_half_up(Fraction(net) * multiplier, places)
    unit = Decimal(1).scaleb(-places)
    for step in (0, -1, 1, -2, 2, -3, 3):
        gross = nearest + step * unit
        if gross - _embedded_tax(gross, code, places) == net:
            return gross, True
    return nearest, False


def _inclusive_lines(
    lines: tuple[MappedLine, ...],
    paymo: PaymoInvoiceTotals,
    tax_codes: Mapping[str, QboTaxCode],
    places: int,
    notes: list[str],
) -> tuple[tuple[MappedLine, ...], QboDiscount | None]:
    """Gross amounts and discount line for a ``TaxInclusive`` company.

    Each line's ``TaxInclusiveAmt`` is the gross whose tax-inclusive split is Paymo's net, so
    QBO's line amounts are Paymo's. QBO's total is then Σ gross − discount, so the discount line
    carries what makes that Paymo's total: Paymo's discount plus the tax on it (a tax-inclusive
    discount), which also absorbs the per-line rounding of the grosses. Without a Paymo discount
    (or when it would turn negative) that rounding difference goes to the largest line's gross
    instead, and is noted.
    """
    grosses: list[Decimal] = []
    for line in lines:
        assert line.tax_code_id is not None  # checked by the caller
        gross, exact = _gross_for_net(line.amount, tax_codes[line.tax_code_id], places)
        if not exact:
            notes.append(
                f"line {line.paymo_line_index + 1}: no tax-inclusive amount splits back to {line.amount} "
                f"exactly; sent {gross}"
            )
        grosses.append(gross)
    discount_amount = sum(grosses, ZERO) - paymo.total
    if (discount_amount < 0 or paymo.discount_amount == 0) and discount_amount != 0 and grosses:
        largest = max(range(len(grosses)), key=lambda index: abs(grosses[index]))
        grosses[largest] -= discount_amount
        notes.append(
            f"line {lines[largest].paymo_line_index + 1}: tax-inclusive amount adjusted by "
            f"{-discount_amount} so the per-line grosses add up to Paymo's total"
        )
        discount_amount = ZERO
    if discount_amount != paymo.discount_amount:
        notes.append(
            f"tax-inclusive discount line {discount_amount} stands for Paymo's discount "
            f"{paymo.discount_amount} plus the tax on it"
        )
    mapped = tuple(
        MappedLine(
            line.paymo_line_index,
            line.amount,
            line.qty,
            line.unit_price,
            line.tax_code_id,
            gross,
            line.qty_adjusted,
        )
        for line, gross in zip(lines, grosses, strict=True)
    )
    return mapped, (QboDiscount(amount=discount_amount) if discount_amount != 0 else None)


def _map_global(
    paymo: PaymoInvoiceTotals,
    header: PaymoInvoiceHeader,
    mapping: TaxMapping,
    currency: str,
    places: int,
    built: list[tuple[int, Decimal, Decimal, Decimal, bool]],
    taxed: list[bool],
    discount: QboDiscount | None,
    problems: list[str],
    notes: list[str],
) -> QboInvoiceMapping:
    calculation = mapping.calculation
    needs_taxable_code = any(taxed) and calculation != "NotApplicable"
    needs_exempt_code = not all(taxed) and calculation != "NotApplicable"
    # When no code exists the difference is all of Paymo's tax: QBO could charge none of it.
    missing_tax_difference: Decimal | None = None
    rate_targets: dict[str, Decimal] = {}
    taxable_code_id: str | None = None
    rates_differ = False

    if calculation == "NotApplicable" and paymo.total_tax != 0:
        problems.append(
            f"GlobalTaxCalculation NotApplicable cannot carry Paymo's tax of {paymo.total_tax}; "
            "use TaxExcluded with a TaxCode"
        )
        missing_tax_difference = -paymo.total_tax
    if needs_taxable_code:
        taxable_code_id = mapping.code_for(header.tax, header.tax2, header.tax_on_tax)
        if taxable_code_id is None:
            fitting = [
                code
                for code in mapping.tax_codes.values()
                if code.active and _assign_rates(code, header) is not None
            ]
            if len(fitting) == 1:
                taxable_code_id = fitting[0].id
                notes.append(
                    f"no TaxCode configured for {_describe_rates(header)}; using "
                    f"{_describe_code(fitting[0])}, the only one with these rates"
                )
            else:
                why = "several TaxCodes have these rates" if fitting else "no TaxCode has these rates"
                problems.append(
                    f"no TaxCode mapped for Paymo tax {_describe_rates(header)} ({why}); "
                    "add it to the tax mapping"
                )
                missing_tax_difference = -paymo.total_tax
        if taxable_code_id is not None:
            code = mapping.tax_codes.get(taxable_code_id)
            if code is None:
                problems.append(
                    f"TaxCode {taxable_code_id} is not in the tax code table read from QuickBooks"
                )
                missing_tax_difference = -paymo.total_tax
                taxable_code_id = None
            else:
                assignment = _assign_rates(code, header)
                if assignment is None:
                    problems.append(
                        f"{_describe_code(code)} does not charge Paymo's {_describe_rates(header)}"
                    )
                    rates_differ = True
                else:
                    for name, amount in (("tax", paymo.tax_amount), ("tax2", paymo.tax2_amount)):
                        if name in assignment:
                            rate_id = assignment[name]
                            rate_targets[rate_id] = rate_targets.get(rate_id, ZERO) + amount
                if not code.active:
                    problems.append(f"{_describe_code(code)} is inactive in QuickBooks")
    exempt_code_id = mapping.exempt_code_id
    if needs_exempt_code:
        exempt = mapping.tax_codes.get(exempt_code_id) if exempt_code_id is not None else None
        if exempt_code_id is None:
            problems.append(
                "untaxed lines need the exempt or zero-rated TaxCode (a VAT/GST company needs a tax code on "
                "every line, QBO error 6000); set it in the tax mapping"
            )
        elif exempt is None:
            problems.append(
                f"exempt TaxCode {exempt_code_id} is not in the tax code table read from QuickBooks"
            )
            exempt_code_id = None
        elif exempt.total_percent != 0:
            problems.append(
                f"the exempt code {_describe_code(exempt)} charges tax; untaxed lines need a 0 % code"
            )
            rates_differ = True

    mapped = tuple(
        MappedLine(
            index,
            amount,
            qty,
            price,
            taxable_code_id if taxed[index] and calculation != "NotApplicable" else exempt_code_id,
            None,
            adjusted,
        )
        for index, amount, qty, price, adjusted in built
    )
    if missing_tax_difference is not None or any(
        line.tax_code_id is None for line in mapped if calculation != "NotApplicable"
    ):
        difference = missing_tax_difference if missing_tax_difference is not None else ZERO
        return _mapping_result(
            paymo, mapping, currency, mapped, discount, None, notes, difference=difference, problems=problems
        )
    if calculation == "TaxInclusive" and not rates_differ:
        mapped, discount = _inclusive_lines(mapped, paymo, mapping.tax_codes, places, notes)

    sales_lines = [line.as_sales_line() for line in mapped]

    def compute(override: Mapping[str, Decimal] | None) -> QboInvoiceTotals:
        return compute_global_invoice(
            sales_lines,
            tax_codes=mapping.tax_codes,
            calculation=calculation,
            discount=discount,
            apply_tax_after_discount=mapping.apply_tax_after_discount,
            tax_line_override=override,
            currency=currency,
        )

    computed = compute(None)
    if rates_differ or problems:
        return _mapping_result(
            paymo,
            mapping,
            currency,
            mapped,
            discount,
            computed,
            notes,
            difference=computed.total - paymo.total,
            problems=problems,
        )
    computed_by_rate = computed.tax_by_rate()
    targets = {rate_id: rate_targets.get(rate_id, amount) for rate_id, amount in computed_by_rate.items()}
    override: TaxOverride | None = None
    expected = computed
    # How QBO splits and discounts tax-inclusive lines is the least documented part of its
    # arithmetic, so under TaxInclusive the tax is always stated rather than predicted.
    if targets != computed_by_rate or calculation == "TaxInclusive":
        expected = compute(targets)
        override = TaxOverride(total_tax=expected.total_tax, tax_lines=expected.tax_lines)
    difference = expected.total - paymo.total
    if difference != 0 or expected.total_tax != paymo.total_tax:
        problems.append(
            f"QuickBooks would total {expected.total} (tax {expected.total_tax}) against Paymo's "
            f"{paymo.total} (tax {paymo.total_tax})"
        )
        return _mapping_result(
            paymo,
            mapping,
            currency,
            mapped,
            discount,
            computed,
            notes,
            difference=difference,
            problems=problems,
        )
    return _mapping_result(
        paymo, mapping, currency, mapped, discount, computed, notes, override=override, expected=expected
    )
