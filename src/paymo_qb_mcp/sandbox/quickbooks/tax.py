"""QBO tax arithmetic for both models: global per-line TaxCode/TaxRate and US Automated Sales Tax.

The rules are the ones written down in `docs/sandbox.md` ("QBO tax arithmetic"); every choice that
Intuit does not document is marked GUESS. The functions work on already-validated line dicts and
return the `TxnTaxDetail` to store plus the per-line figures the transaction totals need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.state import QboState
from paymo_qb_mcp.sandbox.quickbooks.wire import round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)

# GUESS (docs/sandbox.md): the AST rate by ship-to state; anything else is taxed at 6 %.
AST_RATES = {"NY": Decimal("8.875"), "CA": Decimal("7.25"), "WA": Decimal("10.25"), "TX": Decimal("8.25")}
AST_OTHER_RATE = Decimal(6)
AST_PSEUDO_CODES = frozenset({"TAX", "NON"})


@dataclass(frozen=True)
class Rate:
    rate_id: str
    percent: Decimal
    applicable: str = "TaxOnAmount"
    order: int = 0

    @property
    def compounds(self) -> bool:
        return self.applicable in {"TaxOnAmountPlusTax", "TaxOnTax"}


@dataclass
class TaxableLine:
    """One line that carries tax: its net amount, an optional tax-inclusive gross, and its rates."""

    net: Decimal
    rates: Sequence[Rate]
    gross: Decimal | None = None


@dataclass
class TaxOutcome:
    detail: dict[str, Any]
    total_tax: Decimal
    nets: list[Decimal] = field(default_factory=list)  # per taxable line, after tax-inclusive back-out
    grosses: list[Decimal] = field(default_factory=list)


def code_rates(state: QboState, code_id: str, *, purchase: bool, element: str) -> list[Rate]:
    """The rates a global TaxCode applies, in TaxOrder (2500/610 when the code is unknown/inactive)."""
    code = state.get("TaxCode", code_id)
    if code is None:
        raise faults.invalid_reference("TaxCode", code_id, element)
    if code.get("Active") is False:
        raise faults.inactive_reference(element)
    list_name = "PurchaseTaxRateList" if purchase else "SalesTaxRateList"
    details = code.get(list_name, {}).get("TaxRateDetail", [])
    if purchase and not details:
        # GUESS: a code without purchase rates taxes purchases at its sales rates.
        details = code.get("SalesTaxRateList", {}).get("TaxRateDetail", [])
    rates: list[Rate] = []
    for detail in details:
        rate = state.get("TaxRate", str(detail["TaxRateRef"]["value"]))
        if rate is None:
            continue
        rates.append(
            Rate(
                rate_id=str(rate["Id"]),
                percent=Decimal(rate.get("RateValue", 0)),
                applicable=str(detail.get("TaxTypeApplicable", "TaxOnAmount")),
                order=int(detail.get("TaxOrder", 0)),
            )
        )
    return sorted(rates, key=lambda rate: rate.order)


def discount_factor(discount: Decimal, subtotal: Decimal, apply_after_discount: bool) -> Fraction:
    """The share of each line's net that is taxed once a discount applies before tax (GUESS: prorated).

    Exact (a Fraction): in Decimal, 1 − discount/subtotal is cut at 28 digits, which turns an exact
    half cent (a true tie, rounded up) into a hair less (rounded down).
    """
    if not apply_after_discount or discount == ZERO or subtotal == ZERO:
        return Fraction(1)
    return 1 - Fraction(discount) / Fraction(subtotal)


def round_exact(value: Fraction, places: int) -> Decimal:
    """Half-up rounding of an exact rational to `places` decimals."""
    scaled = value * 10**places
    quotient, remainder = divmod(abs(scaled.numerator), scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        quotient += 1
    return Decimal(quotient if scaled >= 0 else -quotient).scaleb(-places)


def global_tax(
    lines: Sequence[TaxableLine],
    *,
    inclusive: bool,
    factor: Fraction,
    override: Mapping[str, Decimal] | None,
    places: int,
) -> TaxOutcome:
    """Per line and per rate, half-up rounded to the minor unit; aggregated per rate into TaxLines.

    `override` maps TaxRate Id → amount from a request's own `TxnTaxDetail.TaxLine` (kept as sent).
    """
    per_rate_tax: dict[str, Decimal] = {}
    per_rate_base: dict[str, Fraction] = {}
    percent_of: dict[str, Decimal] = {}
    outcome_nets: list[Decimal] = []
    outcome_grosses: list[Decimal] = []
    for line in lines:
        net = line.net
        if inclusive and line.gross is not None:
            # GUESS: back out each rate's share of the gross over the code's combined simple rate.
            combined = sum((rate.percent for rate in line.rates if not rate.compounds), ZERO)
            shares = [
                round_money(line.gross * rate.percent / (HUNDRED + combined), places) for rate in line.rates
            ]
            net = line.gross - sum(shares, ZERO)
        base = Fraction(net) * factor
        earlier = ZERO
        line_tax = ZERO
        undiscounted_tax = ZERO
        for rate in line.rates:
            rate_base = base + Fraction(earlier) if rate.compounds else base
            amount = round_exact(rate_base * Fraction(rate.percent) / 100, places)
            undiscounted_tax += round_money(
                ((net + earlier) if rate.compounds else net) * rate.percent / HUNDRED, places
            )
            per_rate_tax[rate.rate_id] = per_rate_tax.get(rate.rate_id, ZERO) + amount
            per_rate_base[rate.rate_id] = per_rate_base.get(rate.rate_id, Fraction(0)) + base
            percent_of[rate.rate_id] = rate.percent
            earlier += amount
            line_tax += amount
        outcome_nets.append(net)
        outcome_grosses.append(
            line.gross if (inclusive and line.gross is not None) else net + undiscounted_tax
        )
    if override is not None:
        unknown = set(override) - set(per_rate_tax)
        if unknown:
            raise faults.business_validation(
                f"The tax rate {sorted(unknown)[0]} in TxnTaxDetail is not used by any line of this "
                "transaction.",
                "TxnTaxDetail.TaxLine",
            )
        per_rate_tax.update(override)
    tax_lines = [
        {
            "Amount": per_rate_tax[rate_id],
            "DetailType": "TaxLineDetail",
            "TaxLineDetail": {
                "TaxRateRef": {"value": rate_id},
                "PercentBased": True,
                "TaxPercent": percent_of[rate_id],
                "NetAmountTaxable": round_exact(per_rate_base[rate_id], places),
            },
        }
        for rate_id in per_rate_tax
    ]
    total = sum(per_rate_tax.values(), ZERO)
    detail: dict[str, Any] = {"TotalTax": total}
    if tax_lines:
        detail["TaxLine"] = tax_lines
    return TaxOutcome(detail=detail, total_tax=total, nets=outcome_nets, grosses=outcome_grosses)


def ast_jurisdiction(
    ship_to: Mapping[str, Any] | None, bill_to: Mapping[str, Any] | None, company: Mapping[str, Any]
) -> str:
    """The state AST taxes at: ship-to address, else bill-to, else the company's own address."""
    for address in (ship_to, bill_to, company):
        if address and address.get("CountrySubDivisionCode"):
            return str(address["CountrySubDivisionCode"]).upper()
    return ""


def ast_rate(state_code: str) -> Decimal:
    return AST_RATES.get(state_code, AST_OTHER_RATE)


def us_tax(
    taxable_net: Decimal,
    *,
    rate: Rate,
    code_id: str,
    factor: Fraction,
    override_total: Decimal | None,
    places: int,
) -> TaxOutcome:
    """AST: one rounding of the taxable total; a request's `TotalTax` overrides the amount."""
    base = round_exact(Fraction(taxable_net) * factor, places)
    amount = round_money(base * rate.percent / HUNDRED, places) if override_total is None else override_total
    detail: dict[str, Any] = {"TxnTaxCodeRef": {"value": code_id}, "TotalTax": amount}
    if taxable_net != ZERO or override_total is not None:
        detail["TaxLine"] = [
            {
                "Amount": amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate.rate_id},
                    "PercentBased": True,
                    "TaxPercent": rate.percent,
                    "NetAmountTaxable": base,
                },
            }
        ]
    return TaxOutcome(detail=detail, total_tax=amount)
