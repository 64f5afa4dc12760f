"""The naive baseline: what a quick script does, sequentially, one request at a time, checking nothing.

It reads the period's invoices (with their lines) and the clients from Paymo, then for each invoice asks
QBO for a customer with exactly the client's name, creates one when there is none, and posts the invoice
with the obvious mapping: one line per Paymo line (the default service item, the tax code for the
invoice's GST/QST percents, Exempt for untaxed lines), a percentage discount line, and QBO left to
compute the tax. It never compares totals, never looks for an invoice it may have posted before, and
never matches a customer by anything but its exact name. The benchmark compares what it left in QBO
with Paymo afterwards. Under rate limits it waits in the same client-side limiters the product uses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from benchmarks.seeding import Dataset
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.ratelimit import RateLimiter
from paymo_qb_mcp.sandbox.core import DEFAULT_PAYMO_BASE_URL, DEFAULT_QBO_BASE_URL, Sandbox

__all__ = ["NaiveResult", "run_naive"]

PAGE_SIZE = 200  # 2–5 lines an invoice stays under Paymo's 2,500 included records per response
SERVICE_ITEM = "1"
TAX_CODES = {"gst_qst": "2", "gst": "1", "exempt": "3", "zero_rated": "4"}
MAX_THROTTLED_RETRIES = 50


@dataclass
class NaiveResult:
    latencies: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _Paced:
    """One HTTP client behind a limiter: wait for a slot, send, let the limiter see the answer, and send
    again after a 429 (the limiter decides how long to wait)."""

    def __init__(self, client: httpx.AsyncClient, limiter: RateLimiter) -> None:
        self.client = client
        self.limiter = limiter

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for _ in range(MAX_THROTTLED_RETRIES):
            async with self.limiter.slot():
                response = await self.client.request(method, url, **kwargs)
            self.limiter.observe(response.status_code, response.headers)
            if response.status_code != 429:
                return response
            await anyio.lowlevel.checkpoint()
        return response


async def run_naive(
    sandbox: Sandbox,
    dataset: Dataset,
    *,
    paymo_transport: httpx.AsyncBaseTransport,
    qbo_transport: httpx.AsyncBaseTransport,
    paymo_limiter: RateLimiter,
    qbo_limiter: RateLimiter,
) -> NaiveResult:
    result = NaiveResult()
    realm = sandbox.qbo.realm_id
    async with (
        httpx.AsyncClient(
            transport=paymo_transport,
            base_url=DEFAULT_PAYMO_BASE_URL + "/",
            auth=httpx.BasicAuth(sandbox.paymo.api_key, "X"),
            headers={"Accept": "application/json"},
        ) as paymo_http,
        httpx.AsyncClient(
            transport=qbo_transport,
            base_url=f"{DEFAULT_QBO_BASE_URL}/v3/company/{realm}/",
            headers={"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"},
        ) as qbo_http,
    ):
        paymo = _Paced(paymo_http, paymo_limiter)
        qbo = _Paced(qbo_http, qbo_limiter)
        where = f"date>={dataset.date_from.isoformat()} and date<={dataset.date_to.isoformat()}"
        invoices = await _pages(paymo, "invoices", {"where": where, "include": "invoiceitems"})
        clients = {int(row["id"]): row for row in await _pages(paymo, "clients", {})}
        for invoice in sorted(invoices, key=lambda row: int(row["id"])):
            started = time.perf_counter()
            try:
                client = clients[int(invoice["client_id"])]
                customer_id = await _customer(qbo, client)
                response = await qbo.send(
                    "POST",
                    "invoice",
                    params={"minorversion": "75"},
                    content=jsonwire.dumps(_invoice_body(invoice, customer_id)),
                    headers={"Content-Type": "application/json"},
                )
                _raise_for(response, f"invoice {invoice.get('number')}")
                result.count("created")
            except _Failed as failure:
                result.count("failed")
                if len(result.failures) < 20:
                    result.failures.append(str(failure))
            result.latencies.append(time.perf_counter() - started)
    return result


class _Failed(Exception):
    pass


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise _Failed(f"{what}: HTTP {response.status_code} {response.text[:300]}")


async def _pages(paymo: _Paced, collection: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 0
    while True:
        response = await paymo.send(
            "GET", collection, params={**params, "page": str(page), "page_size": str(PAGE_SIZE)}
        )
        _raise_for(response, f"Paymo {collection}")
        batch = jsonwire.loads(response.content)[collection]
        rows.extend(batch)
        if len(batch) < PAGE_SIZE:
            return rows
        page += 1


async def _customer(qbo: _Paced, client: Mapping[str, Any]) -> str:
    name = str(client["name"])
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    response = await qbo.send(
        "GET",
        "query",
        params={"query": f"select * from Customer where DisplayName = '{escaped}'", "minorversion": "75"},
    )
    _raise_for(response, f"customer query {name!r}")
    found = jsonwire.loads(response.content).get("QueryResponse", {}).get("Customer", [])
    if found:
        return str(found[0]["Id"])
    body: dict[str, Any] = {"DisplayName": name, "CompanyName": name}
    if client.get("email"):
        body["PrimaryEmailAddr"] = {"Address": client["email"]}
    response = await qbo.send(
        "POST",
        "customer",
        params={"minorversion": "75"},
        content=jsonwire.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    _raise_for(response, f"customer create {name!r}")
    return str(jsonwire.loads(response.content)["Customer"]["Id"])


def _invoice_body(invoice: Mapping[str, Any], customer_id: str) -> dict[str, Any]:
    tax = Decimal(str(invoice.get("tax") or 0))
    tax2 = Decimal(str(invoice.get("tax2") or 0))
    if tax and tax2:
        code = TAX_CODES["gst_qst"]
    elif tax:
        code = TAX_CODES["gst"]
    else:
        code = TAX_CODES["zero_rated"]
    lines: list[dict[str, Any]] = []
    for item in sorted(invoice.get("invoiceitems") or [], key=lambda line: int(line.get("seq") or 0)):
        price = Decimal(str(item["price_unit"]))
        quantity = Decimal(str(item["quantity"]))
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": (price * quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                "Description": str(item.get("item") or ""),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": SERVICE_ITEM},
                    "Qty": quantity,
                    "UnitPrice": price,
                    "TaxCodeRef": {"value": code if item.get("apply_tax", True) else TAX_CODES["exempt"]},
                },
            }
        )
    discount = Decimal(str(invoice.get("discount") or 0))
    if discount:
        lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": discount},
            }
        )
    return {
        "CustomerRef": {"value": customer_id},
        "DocNumber": str(invoice.get("number")),
        "TxnDate": str(invoice.get("date")),
        "DueDate": str(invoice.get("due_date")),
        "CurrencyRef": {"value": str(invoice.get("currency") or "CAD")},
        "GlobalTaxCalculation": "TaxExcluded",
        "Line": lines,
    }
