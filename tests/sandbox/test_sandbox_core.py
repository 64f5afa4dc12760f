"""The combined sandbox: both emulators from one call, their transports, the facts and the public surface."""

from __future__ import annotations

import sys

import httpx
import pytest

import paymo_qb_mcp.sandbox as sandbox_package
from paymo_qb_mcp.sandbox import Faults, PaymoEmulator, QboEmulator, RateBudget, Sandbox
from paymo_qb_mcp.sandbox.core import DEFAULT_PAYMO_BASE_URL, DEFAULT_QBO_BASE_URL


def test_public_surface() -> None:
    assert sorted(sandbox_package.__all__) == [
        "Faults",
        "PaymoEmulator",
        "QboEmulator",
        "RateBudget",
        "Sandbox",
    ]
    assert isinstance(Sandbox.create().paymo.faults, Faults)
    assert RateBudget(1, 1.0).limit == 1


def test_importing_one_emulator_does_not_require_the_other() -> None:
    # The package resolves its names lazily, so a Paymo-only test never imports the QBO emulator.
    assert sandbox_package.__getattr__("PaymoEmulator") is PaymoEmulator
    with pytest.raises(AttributeError):
        sandbox_package.__getattr__("Nothing")
    assert "paymo_qb_mcp.sandbox.paymo" in sys.modules


def test_create_passes_seed_model_and_limits_to_both() -> None:
    sandbox = Sandbox.create(seed="empty", tax_model="us", rate_limits="faithful")
    assert isinstance(sandbox.paymo, PaymoEmulator)
    assert isinstance(sandbox.qbo, QboEmulator)
    assert sandbox.paymo.state.tables["clients"] == {}
    assert sandbox.paymo.state.company["default_currency"] == "USD"
    assert sandbox.paymo.rate_budget == RateBudget(5, 5.0)
    assert sandbox.qbo.rate_budget != Sandbox.create().qbo.rate_budget


def test_create_scales_both_emulators_rate_windows() -> None:
    sandbox = Sandbox.create(rate_limits="faithful", time_scale=10.0)
    assert (sandbox.paymo.time_scale, sandbox.qbo.time_scale) == (10.0, 10.0)
    assert sandbox.paymo.rate_budget == RateBudget(5, 0.5)
    assert sandbox.qbo.rate_budget.per_minute == RateBudget(500, 6.0)
    assert (sandbox.paymo.throttled, sandbox.qbo.throttled) == (0, 0)
    assert Sandbox.create().qbo.time_scale == 1.0


def test_relaxed_limits_by_default() -> None:
    assert Sandbox.create().paymo.rate_budget == RateBudget(1000, 5.0)


def test_facts() -> None:
    sandbox = Sandbox.create()
    assert sandbox.facts() == {
        "paymo_base_url": DEFAULT_PAYMO_BASE_URL,
        "qbo_base_url": DEFAULT_QBO_BASE_URL,
        "realm_id": sandbox.qbo.realm_id,
        "paymo_api_key": sandbox.paymo.api_key,
        "qbo_access_token": sandbox.qbo.access_token,
        "seed": "demo",
        "tax_model": "global",
    }
    served = sandbox.facts(paymo_base_url="http://127.0.0.1:1/api", qbo_base_url="http://127.0.0.1:2")
    assert (served["paymo_base_url"], served["qbo_base_url"]) == (
        "http://127.0.0.1:1/api",
        "http://127.0.0.1:2",
    )


async def test_transports_reach_each_emulator() -> None:
    sandbox = Sandbox.create()
    async with httpx.AsyncClient(
        transport=sandbox.paymo_transport(),
        base_url=DEFAULT_PAYMO_BASE_URL,
        auth=(sandbox.paymo.api_key, "X"),
    ) as paymo:
        company = (await paymo.get(f"{DEFAULT_PAYMO_BASE_URL}/company")).json()["company"]
    realm = sandbox.qbo.realm_id
    async with httpx.AsyncClient(
        transport=sandbox.qbo_transport(),
        base_url=DEFAULT_QBO_BASE_URL,
        headers={"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"},
    ) as qbo:
        info = (await qbo.get(f"/v3/company/{realm}/companyinfo/{realm}")).json()["CompanyInfo"]
    assert company["name"] == "Northwind Pixel Studio"
    assert info["CompanyName"] == "Northwind Pixel Studio Inc."
    assert [r.path for r in sandbox.paymo.request_log] == ["/api/company"]
    assert len(sandbox.qbo.request_log) == 1
