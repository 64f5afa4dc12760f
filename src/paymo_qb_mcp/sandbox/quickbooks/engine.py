"""Operations on the emulated company: create, read, full/sparse update, delete, void, query, CDC, batch.

Shared by the REST routes and the batch endpoint; every operation either raises a `QboFault`
before touching state or applies completely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.fields import (
    CDC_EXCLUDED,
    ENTITY_FIELDS,
    READ_ONLY_ENTITIES,
    SINGLETONS,
    TRANSACTIONS,
)
from paymo_qb_mcp.sandbox.quickbooks.state import QboState, Record, decimal_or_zero
from paymo_qb_mcp.sandbox.quickbooks.validate import check_references, clean
from paymo_qb_mcp.sandbox.quickbooks.wire import format_datetime, parse_date, parse_datetime

ZERO = Decimal(0)


@dataclass
class Behaviour:
    """Choices where real QBO behaviour is unconfirmed (✱ in the reference's checklist), all settable.

    Defaults are our best reading of the reference; tests flip them to prove clients cope either way.
    """

    # 6240: compare DisplayName/Name ignoring case and surrounding spaces (✱ item 11).
    names_case_insensitive: bool = True
    # 6140 on sales forms (Invoice, Estimate) and purchase orders whenever a DocNumber repeats (✱ item 12);
    # checks and bills follow the WarnDuplicateCheckNumber / WarnDuplicateBillNumber preferences.
    reject_duplicate_sales_docnumber: bool = True
    # Voiding an invoice with applied payments fails (✱ item 26).
    block_void_with_payments: bool = True
    # Name-list queries without an Active predicate return active rows only (✱ item 32).
    active_only_by_default: bool = True
    # CDC look-back limit and what happens beyond it: "error" (a fault) or "truncate" (✱ item 33).
    cdc_window: timedelta = timedelta(days=30)
    cdc_too_old: Literal["error", "truncate"] = "error"
    cdc_max_objects: int = 1000
    # Batch size limit (✱ item 34: the reference says 30, a guide says 10).
    batch_max_items: int = 30


@dataclass
class WriteOptions:
    allow_duplicate_docnumber: bool = False


# Entity rules: build the stored content from the merged request, or raise a fault. They receive the
# engine, the merged request, the stored record (None on create) and the keys the request supplied.
Builder = Callable[["Engine", str, Record, "Record | None", Record, WriteOptions], Record]
AfterWrite = Callable[["Engine", str, Record, "Record | None"], None]


@dataclass
class EntityRules:
    build: Builder
    after_write: AfterWrite | None = None
    before_delete: Callable[[Engine, str, Record], None] | None = None
    after_delete: Callable[[Engine, str, Record], None] | None = None
    void: Callable[[Engine, str, Record], Record] | None = None


@dataclass
class Engine:
    state: QboState
    behaviour: Behaviour = field(default_factory=Behaviour)
    rules: dict[str, EntityRules] = field(default_factory=dict)

    # --- reads -----------------------------------------------------------------------------------
    def read(self, entity: str, ident: str) -> Record:
        if entity == "CompanyInfo":
            # GET /companyinfo/{realmId}: the record's own Id is "1"; the URL carries the realm.
            return self.state.snapshot("CompanyInfo", "1")
        record = self.state.get(entity, ident)
        if record is None:
            raise faults.object_not_found(entity, transaction=entity in TRANSACTIONS)
        return self.state.snapshot(entity, ident)

    # --- writes ----------------------------------------------------------------------------------
    def create(self, entity: str, payload: Any, options: WriteOptions | None = None) -> Record:
        self._ensure_writable(entity, "Create")
        if entity in SINGLETONS:
            raise faults.unsupported_operation(f"Operation Create is not supported for {entity}.")
        fields = ENTITY_FIELDS[entity]
        supplied = clean(entity, payload, fields)
        content = _content(supplied)
        check_references(content, fields, self.state.resolve)
        record = self._rules(entity).build(self, entity, content, None, content, options or WriteOptions())
        stored = self.state.insert(entity, record)
        self._after_write(entity, stored, None)
        return self.state.snapshot(entity, stored["Id"])

    def update(self, entity: str, payload: Any, options: WriteOptions | None = None) -> Record:
        self._ensure_writable(entity, "Update")
        fields = ENTITY_FIELDS[entity]
        supplied = clean(entity, payload, fields)
        existing = self._current(entity, supplied)
        content = _content(supplied)
        check_references(content, fields, self.state.resolve)
        if supplied.get("sparse") is True or entity in SINGLETONS:
            # GUESS: Preferences and CompanyInfo are always updated sparsely, preference groups merged.
            merged = {**_content(existing), **content}
            if entity == "Preferences":
                merged = _deep_merge(_content(existing), content)
        else:
            merged = content
        record = self._rules(entity).build(self, entity, merged, existing, content, options or WriteOptions())
        record["Id"] = existing["Id"]
        stored = self.state.save(entity, record)
        self._after_write(entity, stored, existing)
        return self.state.snapshot(entity, stored["Id"])

    def delete(self, entity: str, payload: Any) -> Record:
        if entity not in TRANSACTIONS:
            # GUESS (✱ item 25): name lists cannot be deleted, only made inactive.
            raise faults.unsupported_operation(
                f"Operation Delete is not supported for {entity}. Make it inactive (Active: false) instead."
            )
        supplied = clean(entity, _identity_only(payload), ENTITY_FIELDS[entity])
        existing = self._current(entity, supplied)
        self.ensure_open_period(existing.get("TxnDate"))
        rules = self._rules(entity)
        if rules.before_delete is not None:
            rules.before_delete(self, entity, existing)
        self.state.remove(entity, existing["Id"])
        if rules.after_delete is not None:
            rules.after_delete(self, entity, existing)
        return {"status": "Deleted", "domain": "QBO", "Id": existing["Id"]}

    def void(self, entity: str, payload: Any) -> Record:
        rules = self.rules.get(entity)
        if rules is None or rules.void is None:
            raise faults.unsupported_operation(f"Operation Void is not supported for {entity}.")
        supplied = clean(entity, _identity_only(payload), ENTITY_FIELDS[entity])
        existing = self._current(entity, supplied)
        self.ensure_open_period(existing.get("TxnDate"))
        record = rules.void(self, entity, self.state.snapshot(entity, existing["Id"]))
        stored = self.state.save(entity, record)
        self._after_write(entity, stored, existing)
        return self.state.snapshot(entity, stored["Id"])

    # --- helpers for entity rules ----------------------------------------------------------------
    def ensure_open_period(self, txn_date: object) -> None:
        """6210 for a transaction dated on or before the books' closing date."""
        closed = self.state.book_close_date
        day = parse_date(txn_date) if isinstance(txn_date, str) else None
        if closed is not None and day is not None and day <= closed:
            raise faults.period_closed()

    def names_equal(self, left: str, right: str) -> bool:
        if self.behaviour.names_case_insensitive:
            return left.strip().casefold() == right.strip().casefold()
        return left.strip() == right.strip()

    def refresh_customer_balance(self, customer_id: str) -> None:
        """Customer.Balance = open invoice balances − unapplied payments (GUESS), rolled up to parents."""
        table = self.state.tables["Customer"]
        if customer_id not in table:
            return
        balance = ZERO
        for invoice in self.state.tables["Invoice"].values():
            if invoice.get("CustomerRef", {}).get("value") == customer_id:
                balance += decimal_or_zero(invoice.get("Balance"))
        for payment in self.state.tables["Payment"].values():
            if payment.get("CustomerRef", {}).get("value") == customer_id:
                balance -= decimal_or_zero(payment.get("UnappliedAmt"))
        table[customer_id]["Balance"] = balance
        self._refresh_balance_with_jobs(customer_id)

    def _refresh_balance_with_jobs(self, customer_id: str) -> None:
        table = self.state.tables["Customer"]
        current: str | None = customer_id
        while current is not None and current in table:
            children = [row for row in table.values() if row.get("ParentRef", {}).get("value") == current]
            total = decimal_or_zero(table[current].get("Balance"))
            total += sum((decimal_or_zero(child.get("BalanceWithJobs")) for child in children), ZERO)
            table[current]["BalanceWithJobs"] = total
            parent = table[current].get("ParentRef")
            current = str(parent["value"]) if parent else None

    def refresh_vendor_balance(self, vendor_id: str) -> None:
        table = self.state.tables["Vendor"]
        if vendor_id in table:
            table[vendor_id]["Balance"] = sum(
                (
                    decimal_or_zero(bill.get("Balance"))
                    for bill in self.state.tables["Bill"].values()
                    if bill.get("VendorRef", {}).get("value") == vendor_id
                ),
                ZERO,
            )

    # --- CDC -------------------------------------------------------------------------------------
    def change_data_capture(
        self, entities_param: str | None, changed_since: str | None
    ) -> list[dict[str, Any]]:
        if not entities_param:
            raise faults.required("entities")
        if not changed_since:
            raise faults.required("changedSince")
        since = _parse_since(changed_since, self.state)
        if since is None:
            raise faults.invalid_value("changedSince", changed_since, "java.util.Date")
        oldest = self.state.now() - self.behaviour.cdc_window
        if since < oldest:
            if self.behaviour.cdc_too_old == "error":
                # GUESS (✱ item 33): the code for a look-back beyond 30 days is not documented.
                raise faults.business_validation(
                    f"changedSince must be within the last {self.behaviour.cdc_window.days} days.",
                    "changedSince",
                )
            since = oldest
        names: list[str] = []
        for raw in entities_param.split(","):
            name = _entity_name(raw.strip())
            if name is None:
                raise faults.query_validation_error(f"Entity {raw.strip()} is not supported for CDC")
            if name in CDC_EXCLUDED:
                # GUESS (✱ item 33): CDC refuses these entities with a validation fault.
                raise faults.business_validation(
                    f"Change data capture is not supported for {name}.", "entities"
                )
            names.append(name)
        responses: list[dict[str, Any]] = []
        budget = self.behaviour.cdc_max_objects
        for name in names:
            changed = [
                self.state.snapshot(name, row["Id"])
                for row in sorted(self.state.rows(name), key=_id_key)
                if _updated_at(row) is not None and _updated_at(row) >= since  # type: ignore[operator]
            ]
            stubs = [
                {
                    "domain": "QBO",
                    "status": "Deleted",
                    "Id": ident,
                    "MetaData": {"LastUpdatedTime": format_datetime(at)},
                }
                for ident, at in sorted(
                    self.state.deleted[name].items(), key=lambda item: _id_key({"Id": item[0]})
                )
                if at >= since
            ]
            objects = (changed + stubs)[: max(budget, 0)]
            budget -= len(objects)
            if objects:
                responses.append(
                    {
                        name: objects,
                        "startPosition": 1,
                        "maxResults": len(objects),
                        "totalCount": len(objects),
                    }
                )
            else:
                responses.append({})
        return responses

    # --- internals -------------------------------------------------------------------------------
    def _rules(self, entity: str) -> EntityRules:
        return self.rules[entity]

    def _ensure_writable(self, entity: str, operation: str) -> None:
        if entity in READ_ONLY_ENTITIES or entity not in self.rules:
            raise faults.unsupported_operation(f"Operation {operation} is not supported for {entity}.")

    def _current(self, entity: str, supplied: Mapping[str, Any]) -> Record:
        """The stored record a write names, with its SyncToken checked (5010 when stale)."""
        if entity in SINGLETONS:
            ident = "1"
        else:
            if not supplied.get("Id"):
                raise faults.required("Id")
            ident = str(supplied["Id"])
        existing = self.state.get(entity, ident)
        if existing is None:
            raise faults.object_not_found(entity, transaction=entity in TRANSACTIONS)
        if "SyncToken" not in supplied:
            raise faults.required("SyncToken")
        if str(supplied["SyncToken"]).strip() != str(existing["SyncToken"]):
            raise faults.stale_object()
        return self.state.snapshot(entity, ident)

    def _after_write(self, entity: str, stored: Record, previous: Record | None) -> None:
        rules = self.rules.get(entity)
        if rules is not None and rules.after_write is not None:
            rules.after_write(self, entity, stored, previous)


_SYSTEM_KEYS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})


def _content(record: Mapping[str, Any]) -> Record:
    return {key: value for key, value in record.items() if key not in _SYSTEM_KEYS}


def _identity_only(payload: Any) -> Any:
    """Deletes and voids only need Id and SyncToken; QBO ignores the rest of the body."""
    if isinstance(payload, Mapping):
        return {key: payload[key] for key in ("Id", "SyncToken", "sparse") if key in payload}
    return payload


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> Record:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _id_key(record: Mapping[str, Any]) -> tuple[int, str]:
    ident = str(record.get("Id", ""))
    return (int(ident), ident) if ident.isdigit() else (1 << 62, ident)


def _updated_at(record: Mapping[str, Any]) -> datetime | None:
    text = record.get("MetaData", {}).get("LastUpdatedTime")
    return parse_datetime(text) if isinstance(text, str) else None


def _parse_since(text: str, state: QboState) -> datetime | None:
    day = parse_date(text)
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=state.zone)
    moment = parse_datetime(text)
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=state.zone)


def _entity_name(raw: str) -> str | None:
    for name in ENTITY_FIELDS:
        if name.lower() == raw.lower():
            return name
    return None
