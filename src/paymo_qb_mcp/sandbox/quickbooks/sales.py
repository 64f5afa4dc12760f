"""Sales forms: Invoice and Estimate (lines, discount, tax, totals, links) and Payment (applications).

Covers checklist items 21–23 and 26: line Ids and LineNum, the appended SubTotalLineDetail line,
TotalAmt/Balance, DocNumber, DueDate from terms, addresses and e-mail copied from the customer,
TxnTaxDetail in both tax models, statuses, LinkedTxn, payments reducing balances, and void.
"""

from __future__ import annotations

import calendar
import copy
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.engine import Engine, EntityRules, WriteOptions
from paymo_qb_mcp.sandbox.quickbooks.names import assign_address_ids
from paymo_qb_mcp.sandbox.quickbooks.seed import ACCOUNT_UNDEPOSITED_FUNDS, ITEM_SERVICES
from paymo_qb_mcp.sandbox.quickbooks.state import Record, decimal_or_zero
from paymo_qb_mcp.sandbox.quickbooks.tax import (
    Rate,
    TaxableLine,
    ast_jurisdiction,
    code_rates,
    discount_factor,
    global_tax,
    us_tax,
)
from paymo_qb_mcp.sandbox.quickbooks.txn_common import (
    LineIds,
    check_qty_times_price,
    doc_number,
    home_amount,
    line_amount,
    line_detail,
    named_ref,
    party_currency,
    transaction_date,
    us_tax_code,
    voided_note,
)
from paymo_qb_mcp.sandbox.quickbooks.validate import ensure_active
from paymo_qb_mcp.sandbox.quickbooks.wire import parse_date, round_money, trim_decimal

ZERO = Decimal(0)
SALES_LINE_TYPES = frozenset(
    {"SalesItemLineDetail", "DescriptionOnly", "DiscountLineDetail", "SubTotalLineDetail"}
)
_SUBTOTAL_TEXT = "subtotal:"


def due_date(engine: Engine, txn_date: date, term_id: str | None) -> date:
    """DueDate from a Standard term (DueDays) or a DateDriven one (DayOfMonthDue / DueNextMonthDays)."""
    term = engine.state.get("Term", term_id) if term_id else None
    if term is None:
        return txn_date
    if "DueDays" in term:
        return txn_date + timedelta(days=int(term["DueDays"]))
    day = int(term.get("DayOfMonthDue", 1))
    year, month = txn_date.year, txn_date.month
    candidate = date(year, month, min(day, calendar.monthrange(year, month)[1]))
    if candidate < txn_date or (candidate - txn_date).days < int(term.get("DueNextMonthDays", 0)):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidate = date(year, month, min(day, calendar.monthrange(year, month)[1]))
    return candidate


def applied_to_invoice(engine: Engine, invoice_id: str) -> Decimal:
    """Σ of payment line amounts that link to the invoice (the source of its Balance)."""
    total = ZERO
    for payment in engine.state.tables["Payment"].values():
        for line in payment.get("Line", []):
            for linked in line.get("LinkedTxn", []):
                if linked.get("TxnType") == "Invoice" and linked.get("TxnId") == invoice_id:
                    total += decimal_or_zero(line.get("Amount"))
    return total


def build_sales_form(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    state = engine.state
    record: Record = copy.deepcopy(merged)
    if not record.get("CustomerRef"):
        raise faults.required("CustomerRef")
    customer = ensure_active(state.resolve, "Customer", str(record["CustomerRef"]["value"]), "CustomerRef")
    record["CustomerRef"] = named_ref(engine, "Customer", record["CustomerRef"])
    if not record.get("Line"):
        raise faults.required("Line")
    txn_date = transaction_date(engine, record, existing)
    record["TxnDate"] = txn_date
    currency, rate, places = party_currency(engine, record, customer, "customer")

    if entity == "Invoice":
        term_ref = (
            record.get("SalesTermRef")
            or customer.get("SalesTermRef")
            or state.preference("SalesFormsPrefs", "DefaultTerms")
        )
        if term_ref:
            record["SalesTermRef"] = named_ref(engine, "Term", term_ref)
        if not record.get("DueDate"):
            parsed = parse_date(txn_date)
            assert parsed is not None
            record["DueDate"] = due_date(
                engine, parsed, record.get("SalesTermRef", {}).get("value")
            ).isoformat()
    custom_numbers = bool(state.preference("SalesFormsPrefs", "CustomTxnNumbers", False))
    doc_number(
        engine,
        entity,
        record,
        existing,
        options,
        auto_numbered=not custom_numbers,
        check_duplicates=engine.behaviour.reject_duplicate_sales_docnumber,
    )
    for key in ("BillAddr", "ShipAddr"):
        if key not in record and key in customer:
            record[key] = {name: value for name, value in customer[key].items() if name != "Id"}
    assign_address_ids(engine, record, existing, ("BillAddr", "ShipAddr", "ShipFromAddr"))
    if "BillEmail" not in record and customer.get("PrimaryEmailAddr", {}).get("Address"):
        record["BillEmail"] = {"Address": customer["PrimaryEmailAddr"]["Address"]}
    record.setdefault("PrintStatus", "NotSet")
    record.setdefault("EmailStatus", "NotSet")
    if record["EmailStatus"] == "NeedToSend" and not record.get("BillEmail", {}).get("Address"):
        # GUESS: the code is not documented; BillEmail is required for NeedToSend (reference §8.6).
        raise faults.business_validation("BillEmail is required when EmailStatus is NeedToSend.", "BillEmail")
    record.setdefault("ApplyTaxAfterDiscount", True)

    _lines_and_totals(engine, entity, record, existing, supplied, currency, places)
    total = Decimal(record["TotalAmt"])
    home_total = home_amount(engine, total, currency, rate)
    _set_or_drop(record, "HomeTotalAmt", home_total)
    if entity == "Invoice":
        applied = applied_to_invoice(engine, existing["Id"]) if existing else ZERO
        if applied > total:
            raise faults.business_validation(
                "The invoice total cannot be less than the payments already applied to it.", "Line"
            )
        record["Balance"] = total - applied
        _set_or_drop(record, "HomeBalance", home_amount(engine, record["Balance"], currency, rate))
        _invoice_links(engine, record, existing, customer)
    else:
        record.pop("Balance", None)
        record.pop("HomeBalance", None)
        record.setdefault("TxnStatus", "Pending")
        record["LinkedTxn"] = [
            link for link in (existing or {}).get("LinkedTxn", []) if link.get("TxnType") == "Invoice"
        ]
        if not record["LinkedTxn"]:
            record.pop("LinkedTxn")
    for key in ("ARAccountRef", "DepositToAccountRef"):
        if key in record:
            record[key] = named_ref(engine, "Account", record[key])
    return record


def _set_or_drop(record: Record, key: str, value: Decimal | None) -> None:
    if value is None:
        record.pop(key, None)
    else:
        record[key] = value


def _lines_and_totals(
    engine: Engine,
    entity: str,
    record: Record,
    existing: Record | None,
    supplied: Record,
    currency: str,
    places: int,
) -> None:
    state = engine.state
    ids = LineIds(existing)
    lines: list[Record] = []
    sales_lines: list[Record] = []
    discount_lines: list[Record] = []
    for raw in record["Line"]:
        element = "Line"
        detail_type, detail = line_detail(raw, SALES_LINE_TYPES, element)
        if detail_type == "SubTotalLineDetail":
            continue  # computed: QBO appends its own subtotal line
        line: Record = {"Id": ids.assign(raw.get("Id"))}
        for key in ("Description", "LinkedTxn", "CustomField"):
            if key in raw:
                line[key] = raw[key]
        if detail_type == "SalesItemLineDetail":
            line["Amount"] = line_amount(raw, element, places)
            item_ref = detail.get("ItemRef") or {"value": ITEM_SERVICES}
            item = ensure_active(
                state.resolve, "Item", str(item_ref["value"]), f"{element}.SalesItemLineDetail.ItemRef"
            )
            detail["ItemRef"] = named_ref(engine, "Item", item_ref)
            if item.get("IncomeAccountRef"):
                detail["ItemAccountRef"] = named_ref(engine, "Account", item["IncomeAccountRef"])
            if detail.get("TaxInclusiveAmt") is None:
                check_qty_times_price(detail, line["Amount"], places)
            if (
                detail.get("Qty") is not None
                and detail.get("UnitPrice") is None
                and Decimal(detail["Qty"]) != 0
            ):
                detail["UnitPrice"] = trim_decimal(line["Amount"] / Decimal(detail["Qty"]))
            sales_lines.append(line)
        elif detail_type == "DiscountLineDetail":
            discount_lines.append(line)
            if detail.get("PercentBased") is not True:
                line["Amount"] = line_amount(raw, element, places)
            if detail.get("DiscountAccountRef"):
                detail["DiscountAccountRef"] = named_ref(engine, "Account", detail["DiscountAccountRef"])
        elif str(raw.get("Description", "")).strip().lower() == _SUBTOTAL_TEXT:
            line["Amount"] = sum((Decimal(prior["Amount"]) for prior in sales_lines), ZERO)
        line["DetailType"] = detail_type
        line["_detail"] = detail
        lines.append(line)
    if not sales_lines:
        raise faults.required("Line", "a SalesItemLineDetail line")

    subtotal = sum((Decimal(line["Amount"]) for line in sales_lines), ZERO)
    discount = ZERO
    for line in discount_lines:
        detail = line["_detail"]
        if detail.get("PercentBased") is True:
            line["Amount"] = round_money(subtotal * Decimal(detail.get("DiscountPercent", 0)) / 100, places)
        discount += Decimal(line["Amount"])
    factor = discount_factor(discount, subtotal, bool(record.get("ApplyTaxAfterDiscount", True)))

    recompute = existing is None or bool(
        {
            "Line",
            "TxnTaxDetail",
            "GlobalTaxCalculation",
            "ApplyTaxAfterDiscount",
            "ShipAddr",
            "BillAddr",
            "CustomerRef",
        }
        & set(supplied)
    )
    override = supplied.get("TxnTaxDetail") if "TxnTaxDetail" in supplied else None
    if state.tax_model == "global":
        gross_total = _global_sales_tax(
            engine, record, sales_lines, factor, override, recompute, existing, places
        )
    else:
        gross_total = None
        _us_sales_tax(engine, record, sales_lines, factor, override, recompute, existing, places)
    subtotal = sum((Decimal(line["Amount"]) for line in sales_lines), ZERO)
    total_tax = Decimal(record["TxnTaxDetail"].get("TotalTax", 0))
    if gross_total is not None:
        record["TotalAmt"] = gross_total - discount
    else:
        record["TotalAmt"] = subtotal - discount + total_tax

    output: list[Record] = []
    for position, line in enumerate(lines, start=1):
        detail = line.pop("_detail")
        ordered: Record = {"Id": line["Id"], "LineNum": position}
        for key in ("Description", "Amount", "LinkedTxn", "CustomField"):
            if key in line:
                ordered[key] = line[key]
        ordered["DetailType"] = line["DetailType"]
        ordered[_key(line["DetailType"])] = detail
        output.append(ordered)
    output.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    record["Line"] = output


def _key(detail_type: str) -> str:
    return "DescriptionLineDetail" if detail_type == "DescriptionOnly" else detail_type


def _global_sales_tax(
    engine: Engine,
    record: Record,
    sales_lines: list[Record],
    factor: Fraction,
    override: Mapping[str, Any] | None,
    recompute: bool,
    existing: Record | None,
    places: int,
) -> Decimal | None:
    """Global model: every sales line needs a TaxCode (6000); tax per line and per rate."""
    mode = str(record.get("GlobalTaxCalculation") or "TaxExcluded")
    record["GlobalTaxCalculation"] = mode
    if mode == "NotApplicable":
        record["TxnTaxDetail"] = {"TotalTax": ZERO}
        return None
    taxable: list[TaxableLine] = []
    codes: set[str] = set()
    for line in sales_lines:
        detail = line["_detail"]
        code_ref = detail.get("TaxCodeRef")
        if not code_ref:
            raise faults.business_validation(
                "Make sure all your transactions have a tax code before you save. "
                "A TaxCodeRef is required on every sales line.",
                "Line.SalesItemLineDetail.TaxCodeRef",
            )
        code_id = str(code_ref["value"])
        codes.add(code_id)
        detail["TaxCodeRef"] = {"value": code_id}
        rates = code_rates(
            engine.state, code_id, purchase=False, element="Line.SalesItemLineDetail.TaxCodeRef"
        )
        gross = detail.get("TaxInclusiveAmt") if mode == "TaxInclusive" else None
        taxable.append(
            TaxableLine(
                net=Decimal(line["Amount"]), rates=rates, gross=None if gross is None else Decimal(gross)
            )
        )
    if not recompute and existing is not None and "TxnTaxDetail" in existing:
        override_amounts: dict[str, Decimal] | None = _override_amounts(existing["TxnTaxDetail"])
    else:
        override_amounts = _override_amounts(override) if override is not None else None
    outcome = global_tax(
        taxable, inclusive=mode == "TaxInclusive", factor=factor, override=override_amounts, places=places
    )
    gross_total: Decimal | None = None
    if mode == "TaxInclusive":
        gross_total = ZERO
        for line, net, gross in zip(sales_lines, outcome.nets, outcome.grosses, strict=True):
            line["Amount"] = net
            line["_detail"]["TaxInclusiveAmt"] = gross
            gross_total += gross
    detail_out = dict(outcome.detail)
    if len(codes) == 1:
        detail_out = {"TxnTaxCodeRef": {"value": next(iter(codes))}, **detail_out}
    record["TxnTaxDetail"] = detail_out
    return gross_total


def _override_amounts(detail: Mapping[str, Any] | None) -> dict[str, Decimal] | None:
    """TaxLine amounts a request supplies are kept (GUESS, docs/sandbox.md); none → QBO computes."""
    if not detail:
        return None
    amounts: dict[str, Decimal] = {}
    for tax_line in detail.get("TaxLine", []):
        rate_ref = tax_line.get("TaxLineDetail", {}).get("TaxRateRef")
        if rate_ref is None or tax_line.get("Amount") is None:
            raise faults.required("TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef")
        amounts[str(rate_ref["value"])] = amounts.get(str(rate_ref["value"]), ZERO) + Decimal(
            tax_line["Amount"]
        )
    return amounts or None


def _us_sales_tax(
    engine: Engine,
    record: Record,
    sales_lines: list[Record],
    factor: Fraction,
    override: Mapping[str, Any] | None,
    recompute: bool,
    existing: Record | None,
    places: int,
) -> None:
    """US AST: lines say TAX or NON; the rate comes from the ship-to state; TotalTax overrides."""
    state = engine.state
    record.pop("GlobalTaxCalculation", None)
    taxable_net = ZERO
    for line in sales_lines:
        detail = line["_detail"]
        code = us_tax_code(detail.get("TaxCodeRef", {}).get("value"), "Line.SalesItemLineDetail.TaxCodeRef")
        detail["TaxCodeRef"] = {"value": code}
        if code == "TAX":
            taxable_net += Decimal(line["Amount"])
    jurisdiction = ast_jurisdiction(
        record.get("ShipAddr"), record.get("BillAddr"), state.company_info.get("CompanyAddr", {})
    )
    code_id, rate_id = state.ast_codes.get(jurisdiction) or state.ast_codes[""]
    tax_rate = state.get("TaxRate", rate_id)
    assert tax_rate is not None
    rate = Rate(rate_id=rate_id, percent=Decimal(tax_rate["RateValue"]))
    override_total: Decimal | None = None
    if override is not None and override.get("TotalTax") is not None:
        override_total = Decimal(override["TotalTax"])
    elif not recompute and existing is not None and "TxnTaxDetail" in existing:
        override_total = Decimal(existing["TxnTaxDetail"].get("TotalTax", 0))
    outcome = us_tax(
        taxable_net, rate=rate, code_id=code_id, factor=factor, override_total=override_total, places=places
    )
    record["TxnTaxDetail"] = outcome.detail


def _invoice_links(
    engine: Engine, record: Record, existing: Record | None, customer: Mapping[str, Any]
) -> None:
    """Invoice.LinkedTxn: system-managed payment links plus the estimates and time activities it bills."""
    state = engine.state
    payments = [link for link in (existing or {}).get("LinkedTxn", []) if link.get("TxnType") == "Payment"]
    requested = [
        link for link in record.get("LinkedTxn", []) if link.get("TxnType") in {"Estimate", "TimeActivity"}
    ]
    for line in record["Line"]:
        requested += [link for link in line.get("LinkedTxn", []) if link.get("TxnType") == "TimeActivity"]
    for link in requested:
        kind = str(link["TxnType"])
        target = state.get(kind, str(link.get("TxnId")))
        if target is None:
            raise faults.invalid_reference(kind, str(link.get("TxnId")), "LinkedTxn")
        if target.get("CustomerRef", {}).get("value") != customer["Id"]:
            raise faults.cannot_link(str(link.get("TxnId")))
        if kind == "TimeActivity":
            already_ours = existing is not None and target["Id"] in _links(existing, "TimeActivity")
            if target.get("BillableStatus") != "Billable" and not already_ours:
                # GUESS: only billable, not yet billed time can be linked to an invoice.
                raise faults.cannot_link(str(link.get("TxnId")))
    top_level = [
        {"TxnId": str(link["TxnId"]), "TxnType": str(link["TxnType"])}
        for link in record.get("LinkedTxn", [])
        if link.get("TxnType") in {"Estimate", "TimeActivity"}
    ]
    record["LinkedTxn"] = payments + top_level


def _links(record: Mapping[str, Any], kind: str) -> set[str]:
    found = {str(link["TxnId"]) for link in record.get("LinkedTxn", []) if link.get("TxnType") == kind}
    for line in record.get("Line", []):
        found |= {str(link["TxnId"]) for link in line.get("LinkedTxn", []) if link.get("TxnType") == kind}
    return found


def after_invoice_write(engine: Engine, entity: str, stored: Record, previous: Record | None) -> None:
    """Flip billed time to HasBeenBilled and close linked estimates; release what is no longer linked."""
    voided = Decimal(stored.get("TotalAmt", 0)) == 0 and str(stored.get("PrivateNote", "")).startswith(
        "Voided"
    )
    now_linked = set() if voided else _links(stored, "TimeActivity")
    before = _links(previous, "TimeActivity") if previous else set()
    _set_time_status(engine, now_linked - before, "HasBeenBilled")
    _set_time_status(engine, before - now_linked, "Billable")
    estimates_now = set() if voided else _links(stored, "Estimate")
    estimates_before = _links(previous, "Estimate") if previous else set()
    for estimate_id in estimates_now - estimates_before:
        _link_estimate(engine, estimate_id, stored["Id"], link=True)
    for estimate_id in estimates_before - estimates_now:
        _link_estimate(engine, estimate_id, stored["Id"], link=False)
    engine.refresh_customer_balance(str(stored["CustomerRef"]["value"]))
    if previous and previous["CustomerRef"]["value"] != stored["CustomerRef"]["value"]:
        engine.refresh_customer_balance(str(previous["CustomerRef"]["value"]))


def _set_time_status(engine: Engine, ids: set[str], status: str) -> None:
    for ident in sorted(ids):
        activity = engine.state.tables["TimeActivity"].get(ident)
        if activity is not None and activity.get("BillableStatus") != status:
            updated = copy.deepcopy(activity)
            updated["BillableStatus"] = status
            engine.state.save("TimeActivity", updated)


def _link_estimate(engine: Engine, estimate_id: str, invoice_id: str, *, link: bool) -> None:
    estimate = engine.state.tables["Estimate"].get(estimate_id)
    if estimate is None:
        return
    updated = copy.deepcopy(estimate)
    links = [item for item in updated.get("LinkedTxn", []) if item.get("TxnId") != invoice_id]
    if link:
        links.append({"TxnId": invoice_id, "TxnType": "Invoice"})
        updated["TxnStatus"] = "Closed"
    elif updated.get("TxnStatus") == "Closed" and not links:
        updated["TxnStatus"] = "Pending"
    if links:
        updated["LinkedTxn"] = links
    else:
        updated.pop("LinkedTxn", None)
    engine.state.save("Estimate", updated)


def before_invoice_delete(engine: Engine, entity: str, invoice: Record) -> None:
    """Deleting an invoice leaves its payments as unapplied credit (GUESS: QBO's UI behaviour)."""
    _unapply_payments(engine, invoice["Id"])


def _unapply_payments(engine: Engine, invoice_id: str) -> None:
    for payment in list(engine.state.tables["Payment"].values()):
        lines = payment.get("Line", [])
        kept = [
            line
            for line in lines
            if not any(
                link.get("TxnType") == "Invoice" and link.get("TxnId") == invoice_id
                for link in line.get("LinkedTxn", [])
            )
        ]
        if len(kept) != len(lines):
            updated = copy.deepcopy(payment)
            updated["Line"] = kept
            applied = sum((Decimal(line["Amount"]) for line in kept), ZERO)
            updated["UnappliedAmt"] = Decimal(updated["TotalAmt"]) - applied
            engine.state.save("Payment", updated)


def after_invoice_delete(engine: Engine, entity: str, invoice: Record) -> None:
    _set_time_status(engine, _links(invoice, "TimeActivity"), "Billable")
    for estimate_id in _links(invoice, "Estimate"):
        _link_estimate(engine, estimate_id, invoice["Id"], link=False)
    engine.refresh_customer_balance(str(invoice["CustomerRef"]["value"]))


def void_invoice(engine: Engine, entity: str, invoice: Record) -> Record:
    """Amounts and quantities become 0, Balance 0, "Voided" prepended to PrivateNote (reference §3.6)."""
    if applied_to_invoice(engine, invoice["Id"]) > 0:
        if engine.behaviour.block_void_with_payments:
            # GUESS (✱ item 26): the exact code is not documented.
            raise faults.business_validation(
                "This invoice has payments applied to it. Remove the payments before voiding the invoice.",
                "Id",
            )
        _unapply_payments(engine, invoice["Id"])
    for line in invoice.get("Line", []):
        line["Amount"] = ZERO
        detail = line.get("SalesItemLineDetail")
        if isinstance(detail, dict):
            if "Qty" in detail:
                detail["Qty"] = ZERO
            if "TaxInclusiveAmt" in detail:
                detail["TaxInclusiveAmt"] = ZERO
    tax_detail = invoice.get("TxnTaxDetail", {})
    tax_detail["TotalTax"] = ZERO
    for tax_line in tax_detail.get("TaxLine", []):
        tax_line["Amount"] = ZERO
        tax_line.get("TaxLineDetail", {})["NetAmountTaxable"] = ZERO
    invoice["TotalAmt"] = ZERO
    invoice["Balance"] = ZERO
    for key in ("HomeTotalAmt", "HomeBalance"):
        if key in invoice:
            invoice[key] = ZERO
    invoice["LinkedTxn"] = [link for link in invoice.get("LinkedTxn", []) if link.get("TxnType") != "Payment"]
    invoice["PrivateNote"] = voided_note(invoice.get("PrivateNote"))
    return invoice


# --- Payment -------------------------------------------------------------------------------------


def build_payment(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    state = engine.state
    record: Record = copy.deepcopy(merged)
    if not record.get("CustomerRef"):
        raise faults.required("CustomerRef")
    customer = ensure_active(state.resolve, "Customer", str(record["CustomerRef"]["value"]), "CustomerRef")
    record["CustomerRef"] = named_ref(engine, "Customer", record["CustomerRef"])
    if record.get("TotalAmt") is None:
        raise faults.required("TotalAmt")
    record["TxnDate"] = transaction_date(engine, record, existing)
    currency, _rate, places = party_currency(engine, record, customer, "customer")
    total = round_money(Decimal(record["TotalAmt"]), places)
    if total < 0:
        raise faults.business_validation("The payment amount cannot be negative.", "TotalAmt")
    record["TotalAmt"] = total
    previous_applied: dict[str, Decimal] = _applications(existing) if existing else {}
    applied: dict[str, Decimal] = {}
    lines: list[Record] = []
    for raw in record.get("Line", []):
        amount = line_amount(raw, "Line", places)
        links = raw.get("LinkedTxn") or []
        if not links:
            raise faults.required("Line.LinkedTxn")
        line_links: list[Record] = []
        extras: list[Record] = []
        for link in links:
            txn_type, txn_id = str(link.get("TxnType", "")), str(link.get("TxnId", ""))
            if txn_type != "Invoice":
                # GUESS: credit memos, journal entries and the like are not emulated.
                raise faults.invalid_reference(txn_type or "Transaction", txn_id, "Line.LinkedTxn")
            invoice = state.get("Invoice", txn_id)
            if invoice is None:
                raise faults.invalid_reference("Invoice", txn_id, "Line.LinkedTxn.TxnId")
            if invoice["CustomerRef"]["value"] != customer["Id"]:
                raise faults.cannot_link(txn_id)
            if invoice["CurrencyRef"]["value"] != currency:
                raise faults.cannot_link(txn_id)
            open_balance = Decimal(invoice.get("Balance", 0)) + previous_applied.get(txn_id, ZERO)
            applied[txn_id] = applied.get(txn_id, ZERO) + amount
            if applied[txn_id] > open_balance:
                # GUESS (✱ item 22): the code for over-application is not documented.
                raise faults.business_validation(
                    f"The payment applies {applied[txn_id]} to invoice {txn_id}, "
                    f"whose open balance is {open_balance}.",
                    "Line.Amount",
                )
            line_links.append({"TxnId": txn_id, "TxnType": "Invoice"})
            extras += _line_ex(txn_id, open_balance, invoice.get("DocNumber"))
        lines.append({"Amount": amount, "LinkedTxn": line_links, "LineEx": {"any": extras}})
    applied_total = sum(applied.values(), ZERO)
    if applied_total > total:
        raise faults.business_validation("The amounts applied exceed the payment's total amount.", "Line")
    record["Line"] = lines
    record["UnappliedAmt"] = total - applied_total
    deposit = record.get("DepositToAccountRef") or {"value": ACCOUNT_UNDEPOSITED_FUNDS}
    account = state.get("Account", str(deposit["value"]))
    if account is None or account.get("AccountType") not in {"Bank", "Other Current Asset"}:
        raise faults.business_validation(
            "DepositToAccountRef must be a Bank or Other Current Asset account.", "DepositToAccountRef"
        )
    record["DepositToAccountRef"] = named_ref(engine, "Account", deposit)
    if record.get("PaymentMethodRef"):
        record["PaymentMethodRef"] = named_ref(engine, "PaymentMethod", record["PaymentMethodRef"])
    record.setdefault("ProcessPayment", False)
    return record


def _line_ex(txn_id: str, open_balance: Decimal, doc_number: object) -> list[Record]:
    """The JAXB `LineEx` blob QBO adds to payment lines (reference §8.7); clients must ignore it."""
    pairs = [("txnId", txn_id), ("txnOpenBalance", f"{open_balance:.2f}")]
    if doc_number:
        pairs.append(("txnReferenceNumber", str(doc_number)))
    return [
        {
            "name": "{http://schema.intuit.com/finance/v3}NameValue",
            "nil": False,
            "value": {"Name": name, "Value": value},
            "declaredType": "com.intuit.schema.finance.v3.NameValue",
            "scope": "javax.xml.bind.JAXBElement$GlobalScope",
            "globalScope": True,
            "typeSubstituted": False,
        }
        for name, value in pairs
    ]


def _applications(payment: Mapping[str, Any] | None) -> dict[str, Decimal]:
    applied: dict[str, Decimal] = {}
    for line in (payment or {}).get("Line", []):
        for link in line.get("LinkedTxn", []):
            if link.get("TxnType") == "Invoice":
                txn_id = str(link["TxnId"])
                applied[txn_id] = applied.get(txn_id, ZERO) + Decimal(line["Amount"])
    return applied


def after_payment_write(engine: Engine, entity: str, stored: Record, previous: Record | None) -> None:
    """Recompute the Balance and the reciprocal Payment link of every invoice the payment touches."""
    touched = set(_applications(stored)) | set(_applications(previous))
    for invoice_id in sorted(touched):
        _refresh_invoice(engine, invoice_id, stored["Id"])
    engine.refresh_customer_balance(str(stored["CustomerRef"]["value"]))


def after_payment_delete(engine: Engine, entity: str, payment: Record) -> None:
    for invoice_id in sorted(_applications(payment)):
        _refresh_invoice(engine, invoice_id, payment["Id"])
    engine.refresh_customer_balance(str(payment["CustomerRef"]["value"]))


def _refresh_invoice(engine: Engine, invoice_id: str, payment_id: str) -> None:
    invoice = engine.state.tables["Invoice"].get(invoice_id)
    if invoice is None:
        return
    updated = copy.deepcopy(invoice)
    applied = applied_to_invoice(engine, invoice_id)
    updated["Balance"] = Decimal(updated["TotalAmt"]) - applied
    if "HomeBalance" in updated:
        rate = Decimal(updated.get("ExchangeRate", 1))
        updated["HomeBalance"] = round_money(updated["Balance"] * rate)
    still_applied = payment_id in {
        ident
        for ident, payment in engine.state.tables["Payment"].items()
        if invoice_id in _applications(payment)
    }
    links = [
        link
        for link in updated.get("LinkedTxn", [])
        if not (link.get("TxnType") == "Payment" and link.get("TxnId") == payment_id)
    ]
    if still_applied:
        links.insert(0, {"TxnId": payment_id, "TxnType": "Payment"})
    updated["LinkedTxn"] = links
    if updated != invoice:
        # GUESS: applying a payment counts as a change of the invoice (SyncToken + 1, new LastUpdatedTime).
        engine.state.save("Invoice", updated)


def void_payment(engine: Engine, entity: str, payment: Record) -> Record:
    """A voided payment keeps its record: TotalAmt 0, UnappliedAmt 0, no lines (reference §8.7)."""
    payment["Line"] = []
    payment["TotalAmt"] = ZERO
    payment["UnappliedAmt"] = ZERO
    payment["PrivateNote"] = voided_note(payment.get("PrivateNote"))
    return payment


def rules() -> dict[str, EntityRules]:
    return {
        "Invoice": EntityRules(
            build_sales_form,
            after_write=after_invoice_write,
            before_delete=before_invoice_delete,
            after_delete=after_invoice_delete,
            void=void_invoice,
        ),
        "Estimate": EntityRules(build_sales_form, after_delete=_after_estimate_delete),
        "Payment": EntityRules(
            build_payment,
            after_write=after_payment_write,
            after_delete=after_payment_delete,
            void=void_payment,
        ),
    }


def _after_estimate_delete(engine: Engine, entity: str, estimate: Record) -> None:
    for invoice in list(engine.state.tables["Invoice"].values()):
        if any(
            link.get("TxnType") == "Estimate" and link.get("TxnId") == estimate["Id"]
            for link in invoice.get("LinkedTxn", [])
        ):
            updated = copy.deepcopy(invoice)
            updated["LinkedTxn"] = [
                link
                for link in updated["LinkedTxn"]
                if not (link.get("TxnType") == "Estimate" and link.get("TxnId") == estimate["Id"])
            ]
            engine.state.save("Invoice", updated)
