"""Rules all transactions share: dates, closed periods, currency, exchange rate, DocNumber, line Ids."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.engine import Engine, WriteOptions
from paymo_qb_mcp.sandbox.quickbooks.fields import DETAIL_KEY
from paymo_qb_mcp.sandbox.quickbooks.state import Record
from paymo_qb_mcp.sandbox.quickbooks.tax import AST_PSEUDO_CODES
from paymo_qb_mcp.sandbox.quickbooks.wire import round_money

AUTO_GENERATE = "AUTO_GENERATE"
_FIRST_DOC_NUMBER = 1001


def transaction_date(engine: Engine, record: Record, existing: Record | None) -> str:
    """TxnDate defaults to the company's today; both the old and the new date must be in an open period."""
    txn_date = str(record.get("TxnDate") or engine.state.today().isoformat())
    engine.ensure_open_period(txn_date)
    if existing is not None:
        engine.ensure_open_period(existing.get("TxnDate"))
    return txn_date


def party_currency(
    engine: Engine, record: Record, party: Mapping[str, Any] | None, kind: str
) -> tuple[str, Decimal, int]:
    """The transaction's currency (the party's by default), its exchange rate and minor-unit places.

    GUESS (✱ item 28): a currency different from the party's is refused with a business validation
    fault; a foreign-currency transaction without ExchangeRate uses 1, as observed (reference §9).
    """
    state = engine.state
    party_code = str((party or {}).get("CurrencyRef", {}).get("value") or state.home_currency)
    requested = record.get("CurrencyRef", {}).get("value")
    code = str(requested or party_code).upper()
    if code != party_code and state.multicurrency:
        raise faults.business_validation(
            f"The transaction currency {code} must match the {kind}'s currency {party_code}.", "CurrencyRef"
        )
    if code not in state.active_currencies():
        raise faults.invalid_reference("Currency", code, "CurrencyRef")
    record["CurrencyRef"] = state.currency_ref(code)
    rate = Decimal(1) if code == state.home_currency else Decimal(record.get("ExchangeRate") or 1)
    if rate <= 0:
        raise faults.business_validation("ExchangeRate must be positive.", "ExchangeRate")
    if state.multicurrency:
        record["ExchangeRate"] = rate
    else:
        record.pop("ExchangeRate", None)
    return code, rate, state.currency_places(code)


def home_amount(engine: Engine, amount: Decimal, currency: str, rate: Decimal) -> Decimal | None:
    if currency == engine.state.home_currency:
        return None
    return round_money(amount * rate, engine.state.currency_places(engine.state.home_currency))


def doc_number(
    engine: Engine,
    entity: str,
    record: Record,
    existing: Record | None,
    options: WriteOptions,
    *,
    auto_numbered: bool,
    check_duplicates: bool,
    duplicate_scope: tuple[str, str] | None = None,
) -> None:
    """Assign or check DocNumber: AUTO_GENERATE (or no number without custom numbering) takes the next one;
    a repeated number fails with 6140 unless `include=allowduplicatedocnum` (checklist item 12).
    """
    number = record.get("DocNumber")
    if (
        number == AUTO_GENERATE
        or record.pop("AutoDocNumber", False) is True
        or (not number and auto_numbered)
    ):
        record["DocNumber"] = _next_doc_number(engine, entity)
        return
    if not number:
        record.pop("DocNumber", None)
        return
    if not check_duplicates or options.allow_duplicate_docnumber:
        return
    own_id = existing["Id"] if existing else None
    for row in engine.state.rows(entity):
        if row["Id"] == own_id or row.get("DocNumber") != number:
            continue
        if duplicate_scope is not None:
            field, value = duplicate_scope
            if row.get(field, {}).get("value") != value:
                continue
        raise faults.duplicate_doc_number(str(number), entity)


def _next_doc_number(engine: Engine, entity: str) -> str:
    numbers = [
        int(row["DocNumber"])
        for row in engine.state.tables[entity].values()
        if str(row.get("DocNumber", "")).isdigit()
    ]
    return str(max([_FIRST_DOC_NUMBER - 1, *numbers]) + 1)


def line_detail(line: Record, allowed: frozenset[str], element: str = "Line") -> tuple[str, Record]:
    """The line's DetailType and its detail object (2020 when missing, 2170 when not allowed here)."""
    detail_type = line.get("DetailType")
    if not detail_type:
        raise faults.required(f"{element}.DetailType")
    if detail_type not in allowed:
        # GUESS: a DetailType valid in the schema but not on this transaction is an invalid enumeration.
        raise faults.invalid_enum(f"{element}.DetailType", detail_type)
    key = DETAIL_KEY[str(detail_type)]
    detail = line.get(key)
    if detail is None:
        if detail_type in {"DescriptionOnly", "SubTotalLineDetail"}:
            return str(detail_type), {}
        raise faults.required(f"{element}.{key}")
    return str(detail_type), dict(detail)


class LineIds:
    """Line Id rules (reference §3.3): an Id that exists on the transaction keeps the line; a missing,
    non-positive or unknown Id makes a new line with the next free number.
    """

    def __init__(self, existing: Record | None) -> None:
        self._known = {
            str(line["Id"]) for line in (existing or {}).get("Line", []) if str(line.get("Id", "")).isdigit()
        }
        self._next = max((int(ident) for ident in self._known), default=0) + 1
        self._used: set[str] = set()

    def assign(self, requested: object) -> str:
        ident = str(requested) if requested is not None else ""
        if ident in self._known and ident not in self._used and int(ident) > 0:
            self._used.add(ident)
            return ident
        while str(self._next) in self._known or str(self._next) in self._used:
            self._next += 1
        ident = str(self._next)
        self._used.add(ident)
        self._next += 1
        return ident


def check_qty_times_price(detail: Mapping[str, Any], amount: Decimal, places: int) -> None:
    """6070 when both Qty and UnitPrice are given and their product does not round to Amount."""
    qty = detail.get("Qty")
    unit_price = detail.get("UnitPrice")
    if (
        qty is not None
        and unit_price is not None
        and round_money(Decimal(qty) * Decimal(unit_price), places) != amount
    ):
        raise faults.amount_mismatch(amount)


def line_amount(line: Mapping[str, Any], element: str, places: int) -> Decimal:
    if line.get("Amount") is None:
        raise faults.required(f"{element}.Amount")
    return round_money(Decimal(line["Amount"]), places)


def named_ref(engine: Engine, entity: str, ref: Mapping[str, Any]) -> dict[str, str]:
    """A reference with QBO's `name` filled in (display name or fully-qualified name)."""
    ident = str(ref["value"])
    name = engine.state.display_name(entity, ident)
    result = {"value": ident}
    if name is not None:
        result["name"] = name
    if "type" in ref:
        result["type"] = str(ref["type"])
    return result


def us_tax_code(code: object, element: str) -> str:
    value = str(code).upper() if code is not None else "NON"
    if value not in AST_PSEUDO_CODES:
        # Under AST the only line codes are the pseudo-codes TAX and NON (reference §7.1).
        raise faults.invalid_reference("TaxCode", str(code), element)
    return value


def voided_note(note: object) -> str:
    """Void prepends "Voided" to PrivateNote (reference §3.6). GUESS: " - " separates it from a note."""
    return "Voided" if not note else f"Voided - {note}"
