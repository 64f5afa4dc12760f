"""Both companies' books as comparable values, and what a storm did to them next to a clean run.

The books are read back over both services' APIs (``read_books``: QuickBooks' query endpoint, Paymo's
REST lists) with plain HTTP requests, not the product's clients: what a user of either service sees, not
what the product makes of it. The tables the month-end run writes are read that way (QBO customers,
vendors, items, accounts, invoices, payments, purchases, bills, time activities; Paymo clients,
invoices, invoice payments, expenses), inactive records included, and each read is checked against the
emulator's own tables (a record the API does not show would hide a duplicate); the reference tables
nobody writes are taken from the emulators as they are. Records that were in the seed keep their ids,
which are the same in every identically seeded sandbox; records made during a run get ids in the order
they were made, which a storm changes, so they are known by what identifies them to the sync — our
marker in ``PrivateNote`` (a Paymo id), a DocNumber, a display name, a bookkeeper's reference — and
every reference to them (``CustomerRef``, ``LinkedTxn``, a ``qbo:payment:<id>`` note in Paymo) is
rewritten the same way. Ids, SyncTokens and timestamps are dropped. Two snapshots then compare record
by record: a key the storm run has more often is a duplicate, less often a lost record, the same number
of times with other content a mismatch.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from paymo_qb_mcp.domain.keys import find_markers
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.core import DEFAULT_PAYMO_BASE_URL, DEFAULT_QBO_BASE_URL
from paymo_qb_mcp.sandbox.quickbooks.fields import TRANSACTIONS

__all__ = ["Books", "Comparison", "Seeded", "audit_gaps", "compare", "read_books", "seeded"]

# Fields that differ between two runs that wrote the same thing: who made a record when, and how often.
_VOLATILE = frozenset({"Id", "SyncToken", "MetaData", "created_on", "updated_on", "id"})
# QBO references by field name: which table the id in ``value`` belongs to.
_REF_TABLES = {
    "CustomerRef": "Customer",
    "VendorRef": "Vendor",
    "EmployeeRef": "Employee",
    "ItemRef": "Item",
    "AccountRef": "Account",
    "DepositToAccountRef": "Account",
    "ARAccountRef": "Account",
    "APAccountRef": "Account",
    "IncomeAccountRef": "Account",
    "ExpenseAccountRef": "Account",
    "AssetAccountRef": "Account",
    "ParentRef": "Customer",
}
# The tables the month-end run may write, read back over each API (the rest are reference data).
QBO_READ_BACK = (
    "Customer",
    "Vendor",
    "Item",
    "Account",
    "Invoice",
    "Payment",
    "Purchase",
    "Bill",
    "TimeActivity",
)
PAYMO_READ_BACK = ("clients", "invoices", "invoicepayments", "expenses")
_QBO_ACTIVE_FLAG = frozenset({"Customer", "Vendor", "Item", "Account"})
_QBO_PAGE = 1000
_QBO_PAYMENT_NOTE = re.compile(r"(?<![\w:])qbo:payment:([A-Za-z0-9]+)(?![\w:])")


@dataclass(frozen=True)
class Seeded:
    """The ids each table held before the run (the seed's records), for both systems."""

    qbo: dict[str, frozenset[str]]
    paymo: dict[str, frozenset[Any]]


def seeded(sandbox: Sandbox) -> Seeded:
    return Seeded(
        qbo={table: frozenset(rows) for table, rows in sandbox.qbo.state.tables.items()},
        paymo={table: frozenset(rows) for table, rows in sandbox.paymo.state.tables.items()},
    )


@dataclass
class Books:
    """Per system and table, each key's records (normalised), and which QBO ids each key stands for."""

    records: dict[tuple[str, str], dict[str, list[Any]]]
    qbo_keys: dict[tuple[str, str], str]
    # Where a read over an API and the emulator's own table disagreed (see ``read_books``).
    unread: list[str] = field(default_factory=list)

    def keys(self) -> set[tuple[str, str, str]]:
        return {(system, table, key) for (system, table), rows in self.records.items() for key in rows}


def _qbo_key(table: str, record: Mapping[str, Any], was_seeded: bool) -> str:
    if was_seeded:
        return f"seed:{record['Id']}"
    markers = sorted(f"{m.kind}:{m.paymo_id}" for m in find_markers(record.get("PrivateNote")))
    if markers:
        return "marker:" + ",".join(markers)
    for name in ("DocNumber", "DisplayName", "Name", "PaymentRefNum"):
        if record.get(name):
            return f"{name}:{record[name]}"
    # Nothing identifies it: its content will (a second copy is then a duplicate all the same).
    return f"content:{sorted(str(item) for item in record.items() if item[0] not in _VOLATILE)}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral_value() else str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _normalise(value: Any, resolve: Any, parent: str = "") -> Any:
    if isinstance(value, Mapping):
        if parent in _REF_TABLES or (parent == "EntityRef" and "value" in value):
            table = _REF_TABLES.get(parent) or str(value.get("type") or "Customer")
            return {
                **{k: _plain(v) for k, v in value.items() if k not in ("value", "name")},
                "value": resolve(table, str(value.get("value"))),
            }
        if value.get("Name") == "txnId" and "Value" in value:
            # QBO's LineEx names the linked transaction by id too (every transaction shares one sequence).
            return {**value, "Value": resolve("Transaction", str(value["Value"]))}
        if "TxnId" in value and "TxnType" in value:
            return {
                **{k: _normalise(v, resolve, k) for k, v in value.items() if k != "TxnId"},
                "TxnId": resolve(str(value["TxnType"]), str(value["TxnId"])),
            }
        return {k: _normalise(v, resolve, k) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        items = [_normalise(item, resolve, parent) for item in value]
        # Which payment QBO linked to an invoice first depends on the order they were written in.
        return sorted(items, key=repr) if parent == "LinkedTxn" else items
    return _plain(value)


async def read_books(sandbox: Sandbox, before: Seeded) -> Books:
    """Both companies as they are now, read back over their APIs and normalised (see the module
    docstring)."""
    qbo_tables: dict[str, dict[str, dict[str, Any]]] = {
        table: dict(rows) for table, rows in sandbox.qbo.state.tables.items()
    }
    paymo_tables: dict[str, dict[Any, dict[str, Any]]] = {
        table: dict(rows) for table, rows in sandbox.paymo.state.tables.items()
    }
    unread: list[str] = []
    async with httpx.AsyncClient(
        transport=sandbox.qbo_transport(),
        base_url=f"{DEFAULT_QBO_BASE_URL}/v3/company/{sandbox.qbo.realm_id}",
        headers={"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"},
    ) as qbo:
        for table in QBO_READ_BACK:
            rows = {str(record["Id"]): record for record in await _qbo_rows(qbo, table)}
            unread.extend(_unlike("quickbooks", table, set(rows), set(qbo_tables[table])))
            qbo_tables[table] = rows
    async with httpx.AsyncClient(
        transport=sandbox.paymo_transport(),
        base_url=DEFAULT_PAYMO_BASE_URL,
        auth=httpx.BasicAuth(sandbox.paymo.api_key, "X"),
        headers={"Accept": "application/json"},
    ) as paymo:
        for table in PAYMO_READ_BACK:
            response = await paymo.get(f"/{table}")
            response.raise_for_status()
            paymo_rows = {record["id"]: record for record in _json(response)[table]}
            unread.extend(_unlike("paymo", table, set(paymo_rows), set(paymo_tables[table])))
            paymo_tables[table] = paymo_rows
    books = _books(qbo_tables, paymo_tables, before)
    books.unread = unread
    return books


async def _qbo_rows(qbo: httpx.AsyncClient, table: str) -> list[dict[str, Any]]:
    """Every row of a QBO entity over the query endpoint, a page of 1,000 at a time."""
    where = " WHERE Active IN (true, false)" if table in _QBO_ACTIVE_FLAG else ""
    rows: list[dict[str, Any]] = []
    while True:
        text = f"SELECT * FROM {table}{where} STARTPOSITION {len(rows) + 1} MAXRESULTS {_QBO_PAGE}"
        response = await qbo.get("/query", params={"query": text, "minorversion": "75"})
        response.raise_for_status()
        page = _json(response)["QueryResponse"].get(table, [])
        rows.extend(page)
        if len(page) < _QBO_PAGE:
            return rows


def _json(response: httpx.Response) -> Any:
    # Amounts as Decimal, as the emulators hold them: a float would compare 0.1 + 0.2 differently.
    return json.loads(response.text, parse_float=Decimal)


def _unlike(system: str, table: str, read: set[Any], held: set[Any]) -> list[str]:
    """What the API's answer and the emulator's own table disagree on (the read-back would miss it)."""
    return [f"{system} {table} {ident}: not read back" for ident in sorted(held - read, key=str)] + [
        f"{system} {table} {ident}: read back, not held" for ident in sorted(read - held, key=str)
    ]


def _books(
    qbo_tables: Mapping[str, Mapping[str, Mapping[str, Any]]],
    paymo_tables: Mapping[str, Mapping[Any, Mapping[str, Any]]],
    before: Seeded,
) -> Books:
    qbo_keys: dict[tuple[str, str], str] = {}
    for table, rows in qbo_tables.items():
        for ident, record in rows.items():
            qbo_keys[(table, ident)] = _qbo_key(table, record, ident in before.qbo.get(table, ()))

    transactions = {ident: key for (table, ident), key in qbo_keys.items() if table in TRANSACTIONS}

    def resolve(table: str, ident: str) -> str:
        if table == "Transaction":
            return transactions.get(ident, f"unknown:{table}:{ident}")
        return qbo_keys.get((table, ident), f"unknown:{table}:{ident}")

    def note(text: Any) -> Any:
        # A Paymo payment we copied from QBO names the QBO payment by id: name it by its key instead.
        if not isinstance(text, str):
            return text
        return _QBO_PAYMENT_NOTE.sub(lambda m: f"qbo:payment:<{resolve('Payment', m.group(1))}>", text)

    records: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for table, rows in qbo_tables.items():
        for ident, record in rows.items():
            records[("quickbooks", table)][qbo_keys[(table, ident)]].append(_normalise(record, resolve))
    for table, paymo_rows in paymo_tables.items():
        for paymo_id, record in paymo_rows.items():
            body = {k: note(_normalise(v, resolve, k)) for k, v in record.items() if k not in _VOLATILE}
            if paymo_id in before.paymo.get(table, ()):
                key = f"seed:{paymo_id}"
            else:
                key = f"content:{sorted((k, str(v)) for k, v in body.items())}"
            records[("paymo", table)][key].append(body)
    return Books(records={k: dict(v) for k, v in records.items()}, qbo_keys=qbo_keys)


@dataclass
class Comparison:
    """How a storm run's books differ from a clean run's."""

    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.duplicates or self.lost or self.mismatched)


def compare(storm: Books, clean: Books) -> Comparison:
    """Record by record (see the module docstring); each entry names system, table and key."""
    found = Comparison()
    for system, table, key in sorted(storm.keys() | clean.keys()):
        mine = storm.records.get((system, table), {}).get(key, [])
        theirs = clean.records.get((system, table), {}).get(key, [])
        where = f"{system} {table} {key[:120]}"
        found.duplicates.extend([where] * max(len(mine) - len(theirs), 0))
        found.lost.extend([where] * max(len(theirs) - len(mine), 0))
        if len(mine) == len(theirs) and _counted(mine) != _counted(theirs):
            found.mismatched.append(where)
    return found


def _counted(rows: Iterable[Any]) -> Counter[str]:
    return Counter(repr(row) for row in rows)


def audit_gaps(
    sandbox: Sandbox, before: Seeded, audit: Iterable[Mapping[str, Any]], *, not_ours: set[str]
) -> list[str]:
    """Records the product made that no ``write`` or ``write_recovered`` audit entry names: QBO customers
    and transactions by QBO id, Paymo invoice payments by Paymo id. ``not_ours``: QBO transaction ids a
    bookkeeper (the test) wrote. (Records of the seed are left out: QBO itself changes them, e.g. a
    customer's balance, and this flow updates none of them.)"""
    named: dict[str, set[str]] = defaultdict(set)
    for entry in audit:
        if entry.get("event") not in ("write", "write_recovered"):
            continue
        ids = entry.get("ids") or {}
        # Customers have their own id sequence in QBO; every transaction shares one.
        kind = "customer" if ids.get("entity") == "customer" else "transaction"
        if ids.get("quickbooks") is not None:
            named[kind].add(str(ids["quickbooks"]))
        if ids.get("entity") == "payment" and ids.get("paymo") is not None:
            named["paymo"].add(str(ids["paymo"]))
    gaps: list[str] = []
    for table, rows in sandbox.qbo.state.tables.items():
        if table not in ("Customer", "Invoice", "Payment", "Purchase", "Bill", "TimeActivity"):
            continue
        kind = "customer" if table == "Customer" else "transaction"
        for ident in rows:
            made = ident not in before.qbo.get(table, ())
            if made and ident not in not_ours and ident not in named[kind]:
                gaps.append(f"quickbooks {table} {ident}")
    for paymo_id in sandbox.paymo.state.tables["invoicepayments"]:
        if paymo_id not in before.paymo["invoicepayments"] and str(paymo_id) not in named["paymo"]:
            gaps.append(f"paymo invoicepayment {paymo_id}")
    return gaps
