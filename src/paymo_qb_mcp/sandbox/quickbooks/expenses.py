"""Purchase-side transactions (Purchase, Bill, PurchaseOrder) and TimeActivity."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.engine import Engine, EntityRules, WriteOptions
from paymo_qb_mcp.sandbox.quickbooks.names import assign_address_ids
from paymo_qb_mcp.sandbox.quickbooks.sales import due_date
from paymo_qb_mcp.sandbox.quickbooks.seed import ACCOUNT_PAYABLE
from paymo_qb_mcp.sandbox.quickbooks.state import Record
from paymo_qb_mcp.sandbox.quickbooks.tax import TaxableLine, code_rates, global_tax
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
)
from paymo_qb_mcp.sandbox.quickbooks.validate import ensure_active
from paymo_qb_mcp.sandbox.quickbooks.wire import format_datetime, parse_date, parse_datetime

ZERO = Decimal(0)
EXPENSE_LINE_TYPES = frozenset({"AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"})
_PARTY_TYPES = ("Vendor", "Customer", "Employee")
_MAX_HOURS = 8760


def _billable_status(detail: Record, previous: str | None, element: str) -> None:
    status = str(detail.get("BillableStatus") or previous or "NotBillable")
    if status == "HasBeenBilled" and previous != "HasBeenBilled":
        # GUESS: HasBeenBilled is set by QBO when an invoice bills the expense; the code is not documented.
        raise faults.business_validation("BillableStatus HasBeenBilled cannot be set directly.", element)
    if status == "Billable" and not detail.get("CustomerRef"):
        raise faults.required(f"{element}.CustomerRef", "CustomerRef for a billable line")
    detail["BillableStatus"] = status


def _expense_lines(
    engine: Engine, record: Record, existing: Record | None, places: int
) -> tuple[list[Record], list[TaxableLine], bool]:
    state = engine.state
    if not record.get("Line"):
        raise faults.required("Line")
    ids = LineIds(existing)
    previous_status = {
        str(line.get("Id")): line.get(str(line.get("DetailType")), {}).get("BillableStatus")
        for line in (existing or {}).get("Line", [])
    }
    lines: list[Record] = []
    taxable: list[TaxableLine] = []
    any_code = False
    inclusive = record.get("GlobalTaxCalculation") == "TaxInclusive"
    for position, raw in enumerate(record["Line"], start=1):
        detail_type, detail = line_detail(raw, EXPENSE_LINE_TYPES)
        element = f"Line.{detail_type}"
        amount = line_amount(raw, "Line", places)
        line_id = ids.assign(raw.get("Id"))
        if detail_type == "AccountBasedExpenseLineDetail":
            if not detail.get("AccountRef"):
                raise faults.required(f"{element}.AccountRef")
            detail["AccountRef"] = named_ref(engine, "Account", detail["AccountRef"])
        else:
            if not detail.get("ItemRef"):
                raise faults.required(f"{element}.ItemRef")
            detail["ItemRef"] = named_ref(engine, "Item", detail["ItemRef"])
            check_qty_times_price(detail, amount, places)
        if detail.get("CustomerRef"):
            detail["CustomerRef"] = named_ref(engine, "Customer", detail["CustomerRef"])
        _billable_status(detail, previous_status.get(line_id), element)
        code_ref = detail.get("TaxCodeRef")
        if state.tax_model == "us":
            if code_ref:
                detail["TaxCodeRef"] = {"value": us_tax_code(code_ref.get("value"), f"{element}.TaxCodeRef")}
        elif code_ref:
            any_code = True
            code_id = str(code_ref["value"])
            detail["TaxCodeRef"] = {"value": code_id}
            rates = code_rates(state, code_id, purchase=True, element=f"{element}.TaxCodeRef")
            gross = detail.get("TaxInclusiveAmt") if inclusive else None
            taxable.append(
                TaxableLine(net=amount, rates=rates, gross=None if gross is None else Decimal(gross))
            )
        line: Record = {"Id": line_id, "LineNum": position}
        for key in ("Description", "LinkedTxn", "CustomField"):
            if key in raw:
                line[key] = raw[key]
        line["Amount"] = amount
        line["DetailType"] = detail_type
        line[detail_type] = detail
        lines.append(line)
    return lines, taxable, any_code


def build_expense(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    state = engine.state
    record: Record = copy.deepcopy(merged)
    party: Record | None
    if entity == "Purchase":
        party = _purchase_header(engine, record)
    else:
        if not record.get("VendorRef"):
            raise faults.required("VendorRef")
        party = dict(ensure_active(state.resolve, "Vendor", str(record["VendorRef"]["value"]), "VendorRef"))
        record["VendorRef"] = named_ref(engine, "Vendor", record["VendorRef"])
        record["APAccountRef"] = named_ref(
            engine, "Account", record.get("APAccountRef") or {"value": ACCOUNT_PAYABLE}
        )
    record["TxnDate"] = transaction_date(engine, record, existing)
    currency, rate, places = party_currency(
        engine, record, party, "vendor" if entity != "Purchase" else "payee"
    )
    lines, taxable, any_code = _expense_lines(engine, record, existing, places)
    subtotal = sum((Decimal(line["Amount"]) for line in lines), ZERO)
    total = subtotal
    if state.tax_model == "global":
        mode = str(record.get("GlobalTaxCalculation") or "TaxExcluded")
        record["GlobalTaxCalculation"] = mode
        if any_code and mode != "NotApplicable":
            override = _purchase_override(supplied)
            outcome = global_tax(
                taxable,
                inclusive=mode == "TaxInclusive",
                factor=Fraction(1),
                override=override,
                places=places,
            )
            record["TxnTaxDetail"] = outcome.detail
            total = (
                subtotal + outcome.total_tax
                if mode == "TaxExcluded"
                else sum(outcome.grosses, ZERO) + (subtotal - sum((line.net for line in taxable), ZERO))
            )
        else:
            record["TxnTaxDetail"] = {"TotalTax": ZERO}
    else:
        record.pop("GlobalTaxCalculation", None)
        record.pop("TxnTaxDetail", None)
    record["Line"] = lines
    record["TotalAmt"] = total
    home_total = home_amount(engine, total, currency, rate)
    if entity == "Bill":
        parsed = parse_date(record["TxnDate"])
        assert parsed is not None
        term_ref = record.get("SalesTermRef") or (party or {}).get("TermRef")
        if term_ref:
            record["SalesTermRef"] = named_ref(engine, "Term", term_ref)
        record.setdefault("DueDate", due_date(engine, parsed, (term_ref or {}).get("value")).isoformat())
        record["Balance"] = total
        if home_total is not None:
            record["HomeBalance"] = home_total
        warn = state.other_preference("WarnDuplicateBillNumber") == "true"
        doc_number(
            engine,
            entity,
            record,
            existing,
            options,
            auto_numbered=False,
            check_duplicates=warn,
            duplicate_scope=("VendorRef", str(record["VendorRef"]["value"])),
        )
    elif entity == "PurchaseOrder":
        record.setdefault("POStatus", "Open")
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("PrintStatus", "NotSet")
        assign_address_ids(engine, record, existing, ("VendorAddr", "ShipAddr"))
        doc_number(
            engine,
            entity,
            record,
            existing,
            options,
            auto_numbered=False,
            check_duplicates=engine.behaviour.reject_duplicate_sales_docnumber,
        )
    else:
        # Cash and credit-card purchases always refuse a repeated DocNumber; checks follow the preference.
        check = (
            record["PaymentType"] != "Check" or state.other_preference("WarnDuplicateCheckNumber") == "true"
        )
        doc_number(engine, entity, record, existing, options, auto_numbered=False, check_duplicates=check)
        assign_address_ids(engine, record, existing, ("RemitToAddr",))
    return record


def _purchase_header(engine: Engine, record: Record) -> Record | None:
    state = engine.state
    payment_type = record.get("PaymentType")
    if not payment_type:
        raise faults.required("PaymentType")
    if not record.get("AccountRef"):
        raise faults.required("AccountRef")
    account = state.get("Account", str(record["AccountRef"]["value"]))
    assert account is not None  # checked as a reference
    expected = {"Cash": {"Bank", "Other Current Asset"}, "Check": {"Bank"}, "CreditCard": {"Credit Card"}}[
        str(payment_type)
    ]
    if account.get("AccountType") not in expected:
        # GUESS: the code is not documented; the reference says the paying account must match the type.
        raise faults.business_validation(
            f"AccountRef must be a {' or '.join(sorted(expected))} account for a {payment_type} purchase.",
            "AccountRef",
        )
    record["AccountRef"] = named_ref(engine, "Account", record["AccountRef"])
    if record.get("Credit") is True and payment_type != "CreditCard":
        raise faults.business_validation("Credit is only allowed on credit card purchases.", "Credit")
    entity_ref = record.get("EntityRef")
    if not entity_ref:
        return None
    kinds = (str(entity_ref["type"]),) if entity_ref.get("type") else _PARTY_TYPES
    for kind in kinds:
        if kind not in _PARTY_TYPES:
            raise faults.invalid_enum("EntityRef.type", kind)
        party = state.get(kind, str(entity_ref["value"]))
        if party is not None:
            ensure_active(state.resolve, kind, str(entity_ref["value"]), "EntityRef")
            record["EntityRef"] = {**named_ref(engine, kind, entity_ref), "type": kind}
            return dict(party)
    # GUESS: without `type`, the payee is looked up among vendors, then customers, then employees.
    raise faults.invalid_reference(kinds[0], str(entity_ref["value"]), "EntityRef")


def _purchase_override(supplied: Record) -> dict[str, Decimal] | None:
    detail = supplied.get("TxnTaxDetail")
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


def after_bill_write(engine: Engine, entity: str, stored: Record, previous: Record | None) -> None:
    engine.refresh_vendor_balance(str(stored["VendorRef"]["value"]))
    if previous and previous["VendorRef"]["value"] != stored["VendorRef"]["value"]:
        engine.refresh_vendor_balance(str(previous["VendorRef"]["value"]))


def after_bill_delete(engine: Engine, entity: str, bill: Record) -> None:
    engine.refresh_vendor_balance(str(bill["VendorRef"]["value"]))


# --- TimeActivity ----------------------------------------------------------------------------------


def build_time_activity(
    engine: Engine,
    entity: str,
    merged: Record,
    existing: Record | None,
    supplied: Record,
    options: WriteOptions,
) -> Record:
    """NameOf with its Employee/Vendor ref, Hours/Minutes or Start/End, BillableStatus rules (item 27)."""
    state = engine.state
    record: Record = copy.deepcopy(merged)
    name_of = record.get("NameOf")
    if not name_of:
        raise faults.required("NameOf")
    ref_key = "EmployeeRef" if name_of == "Employee" else "VendorRef"
    other_key = "VendorRef" if name_of == "Employee" else "EmployeeRef"
    if not record.get(ref_key):
        raise faults.required(ref_key)
    ensure_active(state.resolve, str(name_of), str(record[ref_key]["value"]), ref_key)
    record[ref_key] = named_ref(engine, str(name_of), record[ref_key])
    record.pop(other_key, None)
    has_duration = "Hours" in record or "Minutes" in record
    has_span = "StartTime" in record or "EndTime" in record
    if has_span:
        for key in ("StartTime", "EndTime"):
            if key not in record:
                raise faults.required(key)
        start = _local_time(engine, str(record["StartTime"]))
        end = _local_time(engine, str(record["EndTime"]))
        if end <= start:
            raise faults.business_validation("EndTime must be later than StartTime.", "EndTime")
        record["StartTime"] = format_datetime(start)
        record["EndTime"] = format_datetime(end)
        record.setdefault("TxnDate", start.date().isoformat())
        record.pop("Hours", None)
        record.pop("Minutes", None)
    elif has_duration:
        hours = int(record.get("Hours", 0))
        minutes = int(record.get("Minutes", 0))
        if not 0 <= minutes <= 59:
            raise faults.business_validation("Minutes must be between 0 and 59.", "Minutes")
        if hours < 0 or hours > _MAX_HOURS or (hours == _MAX_HOURS and minutes):
            raise faults.business_validation(f"Hours must be between 0 and {_MAX_HOURS}.", "Hours")
        record["Hours"] = hours
        record["Minutes"] = minutes
        record.pop("BreakHours", None)
        record.pop("BreakMinutes", None)
    else:
        raise faults.required("Hours", "Hours and Minutes, or StartTime and EndTime")
    record["TxnDate"] = transaction_date(engine, record, existing)
    previous_status = (existing or {}).get("BillableStatus")
    if previous_status == "HasBeenBilled":
        # Billed time stays billed until the invoice that bills it lets go (GUESS: request value ignored).
        record["BillableStatus"] = "HasBeenBilled"
    else:
        status = str(record.get("BillableStatus") or "NotBillable")
        if status == "HasBeenBilled":
            raise faults.business_validation(
                "BillableStatus HasBeenBilled cannot be set directly; link the time activity to an invoice.",
                "BillableStatus",
            )
        record["BillableStatus"] = status
    if record["BillableStatus"] in {"Billable", "HasBeenBilled"} and not record.get("CustomerRef"):
        raise faults.required("CustomerRef", "CustomerRef for billable time")
    if record["BillableStatus"] != "NotBillable":
        record.setdefault("HourlyRate", ZERO)
    for key, target in (("CustomerRef", "Customer"), ("ItemRef", "Item")):
        if record.get(key):
            record[key] = named_ref(engine, target, record[key])
    record.setdefault("Taxable", False)
    return record


def _local_time(engine: Engine, text: str) -> datetime:
    """Start/End without an offset are company-local times (reference §8.10 advises sending them so)."""
    moment = parse_datetime(text)
    assert moment is not None  # validated as a date-time already
    if moment.tzinfo is None:
        return moment.replace(tzinfo=engine.state.zone)
    return moment.astimezone(engine.state.zone)


def rules() -> dict[str, EntityRules]:
    return {
        "Purchase": EntityRules(build_expense),
        "Bill": EntityRules(build_expense, after_write=after_bill_write, after_delete=after_bill_delete),
        "PurchaseOrder": EntityRules(build_expense),
        "TimeActivity": EntityRules(build_time_activity),
    }
