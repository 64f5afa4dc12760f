"""The shared driver of the QBO emulator tests (an httpx client over the ASGI app) and its smoke test.

Other `test_qbo_*` modules import it (`from test_qbo_harness import ...`): this directory is on
sys.path under pytest's default import mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import simplejson

import qbo_xsd
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator

BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
# 2026-11-20 10:30 in Montreal: after the closed books (2025-12-31), inside the demo's Oct–Nov 2026.
FIXED_NOW = datetime(2026, 11, 20, 15, 30, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock tests move by hand (throttling windows, latency-free)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Qbo:
    """A thin client: JSON in and out with Decimals, the emulator's current token, its realm's paths."""

    def __init__(self, client: httpx.AsyncClient, emulator: QboEmulator) -> None:
        self.client = client
        self.emu = emulator

    @property
    def company(self) -> str:
        return f"/v3/company/{self.emu.realm_id}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {self.emu.access_token}", "Accept": "application/json"}
        all_headers.update(headers or {})
        body = content
        if payload is not None:
            body = simplejson.dumps(payload, use_decimal=True).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return await self.client.request(
            method, f"{self.company}/{path}", params=params, content=body, headers=all_headers
        )

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return parse(response)

    async def create(self, entity: str, payload: dict[str, Any], **params: str) -> dict[str, Any]:
        document = await self.ok("POST", entity.lower(), payload=payload, params=params or None)
        return dict(document[entity])

    async def read(self, entity: str, ident: str) -> dict[str, Any]:
        document = await self.ok("GET", f"{entity.lower()}/{ident}")
        return dict(document[entity])

    async def update(self, entity: str, payload: dict[str, Any], **params: str) -> dict[str, Any]:
        return await self.create(entity, payload, **params)

    async def query(self, statement: str) -> dict[str, Any]:
        document = await self.ok("GET", "query", params={"query": statement})
        return dict(document["QueryResponse"])

    async def fault(self, method: str, path: str, *, status: int = 400, **kwargs: Any) -> dict[str, Any]:
        """The first `Fault.Error` of a failing call (asserting its status and the standard shape)."""
        response = await self.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        document = parse(response)
        assert set(document) == {"Fault", "time"}
        assert document["Fault"]["type"] == "ValidationFault"
        error = document["Fault"]["Error"][0]
        assert set(error) == {"Message", "Detail", "code", "element"}
        return dict(error)

    async def create_fault(self, entity: str, payload: dict[str, Any], **params: str) -> dict[str, Any]:
        return await self.fault("POST", entity.lower(), payload=payload, params=params or None)


def parse(response: httpx.Response) -> Any:
    return simplejson.loads(response.text, use_decimal=True)


@asynccontextmanager
async def open_qbo(emulator: QboEmulator) -> AsyncIterator[Qbo]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Qbo(client, emulator)


def emulator(**kwargs: Any) -> QboEmulator:
    """A demo emulator with relaxed limits and the fixed clock, unless told otherwise."""
    options: dict[str, Any] = {"rate_limits": "relaxed", "now": lambda: FIXED_NOW}
    options.update(kwargs)
    return QboEmulator(**options)


def invoice_line(
    amount: str, *, qty: str | None = None, price: str | None = None, tax_code: str | None = "2"
) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": "1"}}
    if qty is not None:
        detail["Qty"] = Decimal(qty)
    if price is not None:
        detail["UnitPrice"] = Decimal(price)
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def validated(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """Check a returned entity against Intuit's XSD (when the schema is present) and hand it back."""
    if qbo_xsd.available():
        qbo_xsd.validate_entity(entity, record)
    return record


async def test_the_harness_reads_company_info_from_a_seeded_emulator() -> None:
    async with open_qbo(emulator()) as qbo:
        info = await qbo.read("CompanyInfo", qbo.emu.realm_id)
    assert info["CompanyName"] == "Northwind Pixel Studio Inc."
    assert info["Country"] == "CA"
    validated("CompanyInfo", info)
