"""The emulated company's in-memory tables, Id sequences, change stamps and company-level settings."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from paymo_qb_mcp.sandbox.quickbooks.fields import ENTITY_FIELDS, TRANSACTIONS
from paymo_qb_mcp.sandbox.quickbooks.wire import format_datetime, parse_date

TaxModel = Literal["global", "us"]
Record = dict[str, Any]

# Display names QBO gives the currencies the demo and tests use (CompanyCurrency.Name, CurrencyRef.name).
CURRENCY_NAMES = {
    "CAD": "Canadian Dollar",
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "AUD": "Australian Dollar",
    "CHF": "Swiss Franc",
    "JPY": "Japanese Yen",
    "MXN": "Mexican Peso",
    "INR": "Indian Rupee",
}
MINOR_UNITS = {"JPY": 0}

# Which field holds a record's display name, for `name` on references and for duplicate checks.
NAME_FIELD = {
    "Customer": "DisplayName",
    "Vendor": "DisplayName",
    "Employee": "DisplayName",
    "TaxAgency": "DisplayName",
    "Item": "Name",
    "Account": "Name",
    "Term": "Name",
    "PaymentMethod": "Name",
    "CompanyCurrency": "Name",
    "TaxCode": "Name",
    "TaxRate": "Name",
}


class QboState:
    """Entity tables keyed by entity name then Id (string), holding wire-form records (Decimals for money).

    Id sequences follow QBO's habit: each name list counts on its own; all transactions share one
    sequence. Records created inside a batch are hidden from the rest of that batch (checklist 34).
    """

    def __init__(self, *, tax_model: TaxModel, time_zone: str, now: Callable[[], datetime]) -> None:
        self.tax_model: TaxModel = tax_model
        self.zone = ZoneInfo(time_zone)
        self._now = now
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in ENTITY_FIELDS}
        self.deleted: dict[str, dict[str, datetime]] = {name: {} for name in ENTITY_FIELDS}
        self._sequences: dict[str, int] = {}
        self._hidden: set[tuple[str, str]] | None = None
        # US model: the AST TaxCode and TaxRate Ids per ship-to state ("" = any other place), set by the seed.
        self.ast_codes: dict[str, tuple[str, str]] = {}

    # --- clock -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The current time in the company's zone (aware)."""
        return self._now().astimezone(self.zone)

    def today(self) -> date:
        return self.now().date()

    # --- Ids -------------------------------------------------------------------------------------
    def next_id(self, entity: str) -> str:
        sequence = "transaction" if entity in TRANSACTIONS else entity
        self._sequences[sequence] = self._sequences.get(sequence, 0) + 1
        return str(self._sequences[sequence])

    def next_address_id(self) -> str:
        return self.next_id("PhysicalAddress")

    # --- reads -----------------------------------------------------------------------------------
    def get(self, entity: str, ident: str) -> Record | None:
        if self._hidden is not None and (entity, ident) in self._hidden:
            return None
        return self.tables[entity].get(ident)

    def rows(self, entity: str) -> list[Record]:
        rows = self.tables[entity].values()
        if self._hidden is None:
            return list(rows)
        return [row for row in rows if (entity, row["Id"]) not in self._hidden]

    def resolve(self, entity: str, ident: str) -> Mapping[str, Any] | None:
        """Reference lookup for validation; entities the emulator does not model resolve to nothing."""
        if entity not in self.tables:
            return None
        return self.get(entity, ident)

    def display_name(self, entity: str, ident: str) -> str | None:
        record = self.get(entity, ident)
        if record is None or entity not in NAME_FIELD:
            return None
        if entity in {"Account", "Item", "Customer"} and "FullyQualifiedName" in record:
            return str(record["FullyQualifiedName"])
        value = record.get(NAME_FIELD[entity])
        return None if value is None else str(value)

    def snapshot(self, entity: str, ident: str) -> Record:
        """A deep copy of a stored record, safe to hand out or to edit before `save`."""
        return copy.deepcopy(self.tables[entity][ident])

    # --- writes ----------------------------------------------------------------------------------
    def insert(self, entity: str, record: Record, *, ident: str | None = None) -> Record:
        """Store a new record with a fresh Id (or the seed's fixed one), SyncToken "0" and creation stamps."""
        if ident is None:
            ident = self.next_id(entity)
        else:
            sequence = "transaction" if entity in TRANSACTIONS else entity
            self._sequences[sequence] = max(self._sequences.get(sequence, 0), int(ident))
        stamp = format_datetime(self.now())
        stored = _with_system_fields(record, ident, "0", {"CreateTime": stamp, "LastUpdatedTime": stamp})
        self.tables[entity][ident] = stored
        self.deleted[entity].pop(ident, None)
        if self._hidden is not None:
            self._hidden.add((entity, ident))
        return stored

    def save(self, entity: str, record: Record) -> Record:
        """Replace a stored record: SyncToken + 1 and a new LastUpdatedTime (checklist item 6)."""
        ident = str(record["Id"])
        previous = self.tables[entity][ident]
        meta = dict(previous["MetaData"])
        meta["LastUpdatedTime"] = format_datetime(self.now())
        token = str(int(previous["SyncToken"]) + 1)
        stored = _with_system_fields(record, ident, token, meta)
        self.tables[entity][ident] = stored
        return stored

    def remove(self, entity: str, ident: str) -> None:
        """Hard delete: gone from reads and queries; remembered for CDC's deleted stubs."""
        del self.tables[entity][ident]
        self.deleted[entity][ident] = self.now()

    @contextmanager
    def batch_isolation(self) -> Iterator[None]:
        """Items of one batch cannot see records another item of it created (reference §3.7)."""
        self._hidden = set()
        try:
            yield
        finally:
            self._hidden = None

    # --- company settings ------------------------------------------------------------------------
    @property
    def company_info(self) -> Record:
        return self.tables["CompanyInfo"]["1"]

    @property
    def preferences(self) -> Record:
        return self.tables["Preferences"]["1"]

    def preference(self, group: str, name: str, default: Any = None) -> Any:
        return self.preferences.get(group, {}).get(name, default)

    def other_preference(self, name: str) -> str | None:
        for pair in self.preferences.get("OtherPrefs", {}).get("NameValue", []):
            if pair.get("Name") == name:
                return str(pair.get("Value"))
        return None

    @property
    def home_currency(self) -> str:
        return str(self.preference("CurrencyPrefs", "HomeCurrency", {}).get("value", "USD"))

    @property
    def multicurrency(self) -> bool:
        return bool(self.preference("CurrencyPrefs", "MultiCurrencyEnabled", False))

    @property
    def book_close_date(self) -> date | None:
        text = self.preference("AccountingInfoPrefs", "BookCloseDate")
        return parse_date(text) if isinstance(text, str) else None

    def currency_ref(self, code: str) -> dict[str, str]:
        return {"value": code, "name": CURRENCY_NAMES.get(code, code)}

    def currency_places(self, code: str) -> int:
        return MINOR_UNITS.get(code, 2)

    def active_currencies(self) -> set[str]:
        codes = {self.home_currency}
        codes.update(
            str(row["Code"]) for row in self.tables["CompanyCurrency"].values() if row.get("Active", True)
        )
        return codes


def _with_system_fields(record: Mapping[str, Any], ident: str, token: str, meta: Mapping[str, str]) -> Record:
    content = {
        key: value
        for key, value in record.items()
        if key not in {"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}
    }
    return {
        **content,
        "domain": "QBO",
        "sparse": False,
        "Id": ident,
        "SyncToken": token,
        "MetaData": dict(meta),
    }


def decimal_or_zero(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value or 0)
