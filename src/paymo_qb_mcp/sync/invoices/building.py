"""Building the QBO invoice a Paymo invoice becomes: payload, tax mapping, items, terms, expected figures.

Everything that would make QBO answer 6200/6210, 610, 6000 or 6070 is found here, at plan time, and
reported as a finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from paymo_qb_mcp.domain.keys import DocNumber, add_marker
from paymo_qb_mcp.domain.money import ZERO
from paymo_qb_mcp.domain.paymo_totals import PaymoInvoiceHeader, PaymoInvoiceLine
from paymo_qb_mcp.domain.plan import FindingList
from paymo_qb_mcp.domain.tax import (
    MappedLine,
    QboInvoiceMapping,
    QboTaxCode,
    QboTaxRateDetail,
    TaxCodeChoice,
    TaxMapping,
    TaxTypeApplicable,
    map_invoice_to_qbo,
)
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import (
    CUSTOMER_MEMO_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    PRIVATE_NOTE_MAX_LENGTH,
)
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.customers import CustomerResolution, customer_for_invoice
from paymo_qb_mcp.sync.invoices.model import INVOICE_LINK_KIND, TAX_TYPES, Draft

__all__ = [
    "Built",
    "ExchangeRates",
    "after_facts",
    "build_invoice",
    "exchange_rate",
    "exchange_rate_or_block",
    "expected_fields",
    "qbo_tax_code",
]


class ExchangeRates:
    """QBO's exchange rates, read once per currency for one plan; a date's rate is chosen from those rows."""

    def __init__(self, ctx: SyncContext) -> None:
        self._ctx = ctx
        self._rows: dict[str, list[qbo_models.ExchangeRate]] = {}

    async def rate(self, currency: str, on: dt.date) -> Decimal | None:
        """QBO's rate for ``currency`` → home currency in force on ``on`` (the latest set on or before it)."""
        code = currency.upper()
        rows = self._rows.get(code)
        if rows is None:
            # GUESS: ExchangeRate is queryable by SourceCurrencyCode (the emulator and third-party drivers
            # agree); the date is chosen here rather than with an AsOfDate comparison in the query.
            rows = await self._ctx.qbo.query_all(qbo_models.ExchangeRate, eq("SourceCurrencyCode", code))
            self._rows[code] = rows
        usable = [
            row for row in rows if row.Rate is not None and row.AsOfDate is not None and row.AsOfDate <= on
        ]
        if not usable:
            return None
        best = max(usable, key=lambda row: (row.AsOfDate or dt.date.min, int(row.Id or 0)))
        return best.Rate


async def exchange_rate(ctx: SyncContext, currency: str, on: dt.date) -> Decimal | None:
    """QBO's rate for ``currency`` → home currency in force on ``on`` (the latest set on or before it).

    None when QBO has no such rate: callers must then block rather than let QBO assume 1.
    """
    return await ExchangeRates(ctx).rate(currency, on)


async def exchange_rate_or_block(
    ctx: SyncContext,
    currency: str,
    on: dt.date,
    findings: FindingList,
    *,
    carrier: str,
    record: str,
    known: dict[tuple[str, dt.date], Decimal | None] | None = None,
    book: ExchangeRates | None = None,
) -> Decimal | None:
    """``exchange_rate``, or None with the EXCHANGE_RATE_MISSING blocker for ``record``.

    ``carrier`` names what would carry the rate (``Paymo invoice 1035``); ``known`` caches the rates a
    plan has read, so that many records on one date ask QBO once; ``book`` reads each currency once.
    """
    key = (currency, on)
    if known is not None and key in known:
        rate = known[key]
    else:
        rate = await (book or ExchangeRates(ctx)).rate(currency, on)
        if known is not None:
            known[key] = rate
    if rate is None:
        home = (await ctx.facts()).home_currency
        findings.block(
            "EXCHANGE_RATE_MISSING",
            f"QuickBooks has no {currency} → {home} exchange rate on or before {on}, so {carrier} cannot "
            "carry one (and is never sent with a silent rate of 1): add the rate in QuickBooks (Settings → "
            "Currencies) and plan again",
            record,
        )
    return rate


@dataclass(frozen=True)
class Built:
    """The QBO invoice a Paymo invoice should be: payload, expected figures, customer."""

    payload: dict[str, Any]
    mapping: QboInvoiceMapping
    customer: CustomerResolution
    line_count: int
    txn_date: dt.date


async def build_invoice(
    ctx: SyncContext,
    invoice: paymo_models.Invoice,
    currency: str,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: Draft,
    record: str,
    rates: ExchangeRates,
) -> Built | None:
    """The QBO invoice a Paymo invoice should become, or None with the blockers that prevent it."""
    if invoice.client_id is None:
        draft.findings.block("NO_CLIENT", f"Paymo invoice {invoice.number} has no client", record)
        return None
    txn_date = invoice.date or ctx.now().astimezone(facts.paymo_timezone).date()
    if facts.in_closed_period(txn_date):
        draft.findings.block(
            "CLOSED_PERIOD",
            f"Paymo invoice {invoice.number} is dated {txn_date}, on or before the QuickBooks book close "
            f"date {facts.book_close_date}; QuickBooks refuses transactions in a closed period (error "
            "6210). Reopen the period in QuickBooks, or date the invoice after the close",
            record,
        )
    if currency != facts.home_currency and not facts.multicurrency:
        draft.findings.block(
            "MULTICURRENCY_OFF",
            f"Paymo invoice {invoice.number} is in {currency}, but QuickBooks multicurrency is off (home "
            f"currency {facts.home_currency}); turn it on in QuickBooks before syncing it",
            record,
        )
    customer = await customer_for_invoice(ctx, invoice.client_id, currency)
    draft.findings.extend(customer.findings)
    rate: Decimal | None = None
    if currency != facts.home_currency and facts.multicurrency:
        rate = await exchange_rate_or_block(
            ctx,
            currency,
            txn_date,
            draft.findings,
            carrier=f"Paymo invoice {invoice.number}",
            record=record,
            book=rates,
        )

    items = sorted(invoice.invoiceitems or [], key=lambda item: (item.seq or 0, item.id))
    if not items:
        draft.findings.block("NO_LINES", f"Paymo invoice {invoice.number} has no lines", record)
        return None
    header = PaymoInvoiceHeader(
        tax=invoice.tax or ZERO,
        tax2=invoice.tax2 or ZERO,
        tax_on_tax=bool(invoice.tax_on_tax),
        discount=invoice.discount or ZERO,
    )
    paymo_lines = [
        PaymoInvoiceLine(
            price_unit=item.price_unit or ZERO, quantity=item.quantity or ZERO, apply_tax=bool(item.apply_tax)
        )
        for item in items
    ]
    tax_mapping = await _tax_mapping(ctx, header, facts, draft, record)
    if tax_mapping is None:
        return None
    mapping = map_invoice_to_qbo(paymo_lines, header, tax_mapping, currency=currency)
    if invoice.total is not None and mapping.paymo.total != invoice.total:
        draft.findings.block(
            "PAYMO_TOTAL_UNEXPECTED",
            f"Paymo shows a total of {invoice.total} for invoice {invoice.number}, but its lines, discount "
            f"and taxes add up to {mapping.paymo.total} (difference {invoice.total - mapping.paymo.total}); "
            "nothing is synced until the two agree (open and save the invoice in Paymo)",
            record,
        )
    if not mapping.ok:
        computed = mapping.expected or mapping.qbo_computed
        qbo_side = f"QuickBooks would total {computed.total}" if computed is not None else "QuickBooks"
        draft.findings.block(
            "TOTAL_MISMATCH",
            f"{qbo_side} against Paymo's {mapping.paymo.total} for invoice {invoice.number}: difference "
            f"{mapping.difference} {currency}" + "".join(f"; {problem}" for problem in mapping.problems),
            record,
        )
        if computed is not None:
            draft.qbo_would_total = computed.total
        return None
    for note in mapping.notes:
        draft.findings.inform("TAX_MAPPING_NOTE", note, record)

    item_ids = await _item_refs(ctx, items, draft, record)
    if item_ids is None:
        return None
    if facts.tax_model == "global" and mapping.calculation != "NotApplicable":
        missing = [line.paymo_line_index + 1 for line in mapping.lines if line.tax_code_id is None]
        if missing:
            draft.findings.block(
                "TAX_CODE_REQUIRED",
                f"lines {missing} of Paymo invoice {invoice.number} have no QuickBooks tax code; a VAT/GST "
                "company needs one on every line, including untaxed ones (error 6000): set "
                "mappings.tax.exempt_code in policies.yaml",
                record,
            )
            return None
    lines = [
        _sales_line(item, mapped, item_ids[index], currency, facts.paymo_timezone)
        for index, (item, mapped) in enumerate(zip(items, mapping.lines, strict=True))
    ]
    if mapping.discount_amount is not None and mapping.discount_amount != 0:
        discount_line: dict[str, Any] = {
            "DetailType": "DiscountLineDetail",
            "Amount": mapping.discount_amount,
            "DiscountLineDetail": {"PercentBased": False},
        }
        if invoice.discount_text:
            discount_line["Description"] = invoice.discount_text[:DESCRIPTION_MAX_LENGTH]
        lines.append(discount_line)

    payload: dict[str, Any] = {
        "CustomerRef": {"value": customer.customer_ref or ""},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "ApplyTaxAfterDiscount": tax_mapping.apply_tax_after_discount,
        "PrivateNote": add_marker(
            f"Paymo invoice {invoice.number}",
            INVOICE_LINK_KIND,
            invoice.id,
            max_length=PRIVATE_NOTE_MAX_LENGTH,
        ),
    }
    if facts.custom_txn_numbers:
        payload["DocNumber"] = doc.value
        if doc.altered:
            draft.findings.warn(
                "DOCNUMBER_ALTERED",
                f"Paymo number {doc.original!r} becomes DocNumber {doc.value!r} in QuickBooks "
                f"({'; '.join(doc.changes)}); the marker in the private note keeps the link",
                record,
            )
    else:
        draft.findings.inform(
            "AUTO_NUMBERED",
            "QuickBooks numbers invoices itself here (custom transaction numbers are off): the Paymo "
            f"number {invoice.number} is kept in the private note",
            record,
        )
    if invoice.due_date is not None:
        payload["DueDate"] = invoice.due_date.isoformat()
        term_id = await _term_for(ctx, (invoice.due_date - txn_date).days)
        if term_id is not None:
            payload["SalesTermRef"] = {"value": term_id}
    if invoice.notes and invoice.notes.strip():
        payload["CustomerMemo"] = {"value": invoice.notes.strip()[:CUSTOMER_MEMO_MAX_LENGTH]}
    if facts.multicurrency:
        payload["CurrencyRef"] = {"value": currency}
        if rate is not None:
            payload["ExchangeRate"] = rate
    if facts.tax_model == "global" and mapping.calculation is not None:
        payload["GlobalTaxCalculation"] = mapping.calculation
    if mapping.override is not None:
        payload["TxnTaxDetail"] = _tax_override(mapping, facts)
    if draft.blocked:
        return None
    return Built(
        payload=payload,
        mapping=mapping,
        customer=customer,
        line_count=len(lines),
        txn_date=txn_date,
    )


async def _tax_mapping(
    ctx: SyncContext, header: PaymoInvoiceHeader, facts: CompanyFacts, draft: Draft, record: str
) -> TaxMapping | None:
    """The domain's TaxMapping for this invoice: the policy's codes, resolved, with QBO's rates."""
    settings = ctx.mappings.tax
    if facts.tax_model == "us":
        # Under AST lines are TAX or NON and QBO picks the rate from the ship-to address; the rate is
        # not predicted, so Paymo's tax is always stated as the TotalTax override.
        return TaxMapping(model="us", us_ast_rate=None)
    codes = await ctx.data.tax_codes()
    rates = await ctx.data.tax_rates()
    table = {code_id: qbo_tax_code(code, rates) for code_id, code in codes.items()}
    charged = [header.tax, header.tax2]
    choices: list[TaxCodeChoice] = []
    ref = settings.code_for(charged, tax_on_tax=header.tax_on_tax)
    if ref is not None and any(percent != 0 for percent in charged):
        code_id = await ctx.resolve(qbo_models.TaxCode, ref, purpose="mappings.tax.codes")
        choices.append(TaxCodeChoice(header.tax, header.tax2, code_id, header.tax_on_tax))
    # An invoice that charges no tax at all uses the policy's code for "no tax" (e.g. zero-rated
    # exports); lines Paymo leaves untaxed on a taxed invoice use the exempt code.
    untaxed_ref = settings.code_for([]) if all(percent == 0 for percent in charged) else settings.exempt_code
    exempt_id = (
        await ctx.resolve(qbo_models.TaxCode, untaxed_ref, purpose="mappings.tax.exempt_code")
        if untaxed_ref is not None
        else None
    )
    for code_id in {choice.tax_code_id for choice in choices} | ({exempt_id} if exempt_id else set()):
        used = table.get(code_id)
        if used is not None and not used.active:
            draft.findings.block(
                "INACTIVE_REF",
                f"the tax mapping uses QuickBooks TaxCode {used.name!r} (Id {used.id}), which is inactive "
                "(error 610); reactivate it in QuickBooks or change mappings.tax in policies.yaml",
                record,
            )
    return TaxMapping(
        model="global",
        calculation=settings.global_tax_calculation,
        choices=tuple(choices),
        exempt_code_id=exempt_id,
        tax_codes=table,
        apply_tax_after_discount=True,
    )


def qbo_tax_code(code: qbo_models.TaxCode, rates: Mapping[str, qbo_models.TaxRate]) -> QboTaxCode:
    """The domain's view of a QBO TaxCode: its sales rates (those ``rates``, by Id, holds) and whether it
    is active. An applicability QBO may add later counts as ``TaxOnAmount``."""
    assert code.Id is not None
    details = code.SalesTaxRateList.TaxRateDetail if code.SalesTaxRateList else None
    rate_details: list[QboTaxRateDetail] = []
    for detail in details or []:
        rate_id = detail.TaxRateRef.value if detail.TaxRateRef else None
        rate = rates.get(rate_id) if rate_id else None
        if rate_id is None or rate is None or rate.RateValue is None:
            continue
        applicable = detail.TaxTypeApplicable or "TaxOnAmount"
        rate_details.append(
            QboTaxRateDetail(
                rate_id=rate_id,
                rate_value=rate.RateValue,
                applicable=cast(TaxTypeApplicable, applicable if applicable in TAX_TYPES else "TaxOnAmount"),
                order=detail.TaxOrder or 0,
                name=rate.Name or "",
            )
        )
    return QboTaxCode(
        id=code.Id, name=code.Name or "", rates=tuple(rate_details), active=code.Active is not False
    )


def _tax_override(mapping: QboInvoiceMapping, facts: CompanyFacts) -> dict[str, Any]:
    assert mapping.override is not None
    if facts.tax_model == "us":
        return {"TotalTax": mapping.override.total_tax}
    return {
        "TotalTax": mapping.override.total_tax,
        "TaxLine": [
            {
                "Amount": line.amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": line.rate_id},
                    "PercentBased": True,
                    "TaxPercent": line.percent,
                    "NetAmountTaxable": line.net_amount_taxable,
                },
            }
            for line in mapping.override.tax_lines
        ],
    }


async def _item_refs(
    ctx: SyncContext, items: Sequence[paymo_models.InvoiceItem], draft: Draft, record: str
) -> list[str] | None:
    """The QBO Item of each line: an active item named like the Paymo line, else the policy's service item."""
    catalogue = await ctx.data.qbo_list(qbo_models.Item)
    by_name = {
        (item.Name or "").strip().casefold(): item
        for item in catalogue
        if item.Active is not False and item.Type in ("Service", "NonInventory") and item.Id is not None
    }
    service_id = await ctx.resolve(
        qbo_models.Item, ctx.mappings.service_item, purpose="mappings.service_item"
    )
    service = next((item for item in catalogue if item.Id == service_id), None)
    chosen: list[str] = []
    for line in items:
        named = by_name.get((line.item or "").strip().casefold())
        chosen.append(named.Id if named is not None and named.Id is not None else service_id)
    if service_id in chosen and (service is None or service.Active is False):
        draft.findings.block(
            "INACTIVE_REF",
            f"the service item {ctx.mappings.service_item.describe()} is inactive or missing in "
            "QuickBooks (error 610); reactivate it or change mappings.service_item in policies.yaml",
            record,
        )
        return None
    accounts = {
        ref.value for item in catalogue if item.Id in chosen and (ref := item.IncomeAccountRef) is not None
    }
    known_accounts = await ctx.data.qbo_rows(qbo_models.Account)
    for account_id in sorted(accounts):
        account = known_accounts.get(account_id)
        if account is None or account.Active is False:
            name = account.Name if account is not None else None
            draft.findings.block(
                "INACTIVE_REF",
                f"QuickBooks income account {name!r} (Id {account_id}) used by the invoice's items "
                "is inactive or missing (error 610); reactivate it or map the lines to another item",
                record,
            )
    return None if draft.blocked else chosen


async def _term_for(ctx: SyncContext, due_days: int) -> str | None:
    """The active standard QBO term with exactly Paymo's due interval (Net 30 for 30 days), if any."""
    terms = await ctx.data.qbo_list(qbo_models.Term)
    for term in terms:
        if term.Active is not False and term.DueDays == due_days and term.DayOfMonthDue is None:
            return term.Id
    return None


def _service_date(item: paymo_models.InvoiceItem, zone: dt.tzinfo) -> dt.date | None:
    """The last day of the time billed on a line (its time entries, in the company's time zone)."""
    days: list[dt.date] = []
    for entry in item.entries or []:
        if entry.date is not None:
            days.append(entry.date)
        elif entry.end_time is not None:
            days.append(entry.end_time.astimezone(zone).date())
    return max(days) if days else None


def _sales_line(
    item: paymo_models.InvoiceItem, mapped: MappedLine, item_id: str, currency: str, zone: dt.tzinfo
) -> dict[str, Any]:
    text = (item.item or "").strip()
    extra = (item.description or "").strip()
    description = f"{text} — {extra}" if text and extra else text or extra
    if mapped.qty_adjusted:
        # QBO needs Qty × UnitPrice to round to Amount; the quantity the client saw stays readable.
        description = f"{description} ({item.quantity} × {item.price_unit} {currency})".strip()
    detail: dict[str, Any] = {
        "ItemRef": {"value": item_id},
        "Qty": mapped.qty,
        "UnitPrice": mapped.unit_price,
    }
    if mapped.tax_code_id is not None:
        detail["TaxCodeRef"] = {"value": mapped.tax_code_id}
    if mapped.tax_inclusive_amt is not None:
        detail["TaxInclusiveAmt"] = mapped.tax_inclusive_amt
    service_date = _service_date(item, zone)
    if service_date is not None:
        detail["ServiceDate"] = service_date.isoformat()
    line: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": mapped.amount}
    if description:
        line["Description"] = description[:DESCRIPTION_MAX_LENGTH]
    line["SalesItemLineDetail"] = detail
    return line


def expected_fields(built: Built, customer_ref: str | None) -> dict[str, Any]:
    """What the read-back must show; a customer created in the same plan is named by its placeholder,
    which the executor resolves like the payload's."""
    expected = built.mapping.expected
    assert expected is not None
    wanted: dict[str, Any] = {
        "TotalAmt": expected.total,
        "TxnTaxDetail.TotalTax": expected.total_tax,
        # QBO appends its own SubTotalLineDetail line to what we send.
        "Line.count": built.line_count + 1,
    }
    if customer_ref is not None:
        wanted["CustomerRef.value"] = customer_ref
    if "DocNumber" in built.payload:
        wanted["DocNumber"] = built.payload["DocNumber"]
    if "CurrencyRef" in built.payload:
        wanted["CurrencyRef.value"] = built.payload["CurrencyRef"]["value"]
    return wanted


def after_facts(invoice: paymo_models.Invoice, built: Built, currency: str) -> dict[str, Any]:
    expected = built.mapping.expected
    assert expected is not None
    return {
        "amount": expected.total,
        "currency": currency,
        "txn_date": built.txn_date,
        "TotalAmt": expected.total,
        "TxnTaxDetail.TotalTax": expected.total_tax,
        "paymo_total": invoice.total,
    }
