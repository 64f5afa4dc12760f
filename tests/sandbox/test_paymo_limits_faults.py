"""Paymo emulator rate limits (headers, 429 + Retry-After on an injected clock), fault knobs, request log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from paymo_qb_mcp.sandbox.faults import RateBudget
from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts

BASE = "https://app.paymoapp.com"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> PaymoEmulator:
    return PaymoEmulator(clock=clock)


@pytest.fixture
async def api(emu: PaymoEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        yield client


async def test_faithful_budget_is_five_per_five_seconds_with_headers(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    remaining = []
    for _ in range(5):
        response = await api.get("/api/me")
        assert response.status_code == 200
        assert response.headers["X-Ratelimit-Limit"] == "5"
        assert response.headers["X-Ratelimit-Decay-Period"] == "5"
        remaining.append(response.headers["X-Ratelimit-Remaining"])
        clock.now += 0.5
    assert remaining == ["4", "3", "2", "1", "0"]
    limited = await api.get("/api/me")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"  # the first request leaves the window at t+5 s
    assert limited.headers["X-Ratelimit-Remaining"] == "0"
    assert limited.json() == {"message": "Too Many Requests"}


async def test_429_persists_until_the_window_ends(api: httpx.AsyncClient, clock: FakeClock) -> None:
    for _ in range(5):
        await api.post("/api/clients", json={"name": "Burst"})
    for step in range(4):
        clock.now += 1.2
        response = await api.get("/api/clients")
        assert response.status_code == 429, step
    clock.now += 0.3  # 5.1 s after the first request
    assert (await api.get("/api/clients")).status_code == 200


async def test_limits_are_per_api_key(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    for _ in range(5):
        await api.get("/api/me")
    assert (await api.get("/api/me")).status_code == 429
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(facts.BEN_API_KEY, "X")
    ) as ben:
        assert (await ben.get("/api/me")).status_code == 200


async def test_rate_budget_is_settable(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    emu.rate_budget = RateBudget(limit=2, period_s=60)
    assert (await api.get("/api/me")).headers["X-Ratelimit-Limit"] == "2"
    await api.get("/api/me")
    limited = await api.get("/api/me")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.headers["X-Ratelimit-Decay-Period"] == "60"


async def test_relaxed_budget() -> None:
    emu = PaymoEmulator(rate_limits="relaxed")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as api:
        for _ in range(20):
            assert (await api.get("/api/me")).status_code == 200
        assert (await api.get("/api/me")).headers["X-Ratelimit-Limit"] == "1000"


async def test_scripted_fault_before_commit_changes_nothing(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    emu.rate_budget = RateBudget(1000, 5)
    emu.faults.fail_next(1, status=503, method="POST", path_contains="/invoicepayments")
    invoice_id = facts.INVOICE_IDS["INV-2026-1041"]
    failed = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": 10})
    assert failed.status_code == 503
    assert failed.json() == {"message": "Service Unavailable"}
    assert failed.headers["X-Ratelimit-Limit"] == "1000"
    assert len(emu.state.tables["invoicepayments"]) == 2
    retried = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": 10})
    assert retried.status_code == 201


async def test_after_commit_fault_applies_the_write_and_loses_the_answer(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    emu.rate_budget = RateBudget(1000, 5)
    emu.faults.fail_next(1, status=502, method="POST", path_contains="/clients", after_commit=True)
    # A GET does not match the scripted fault and is not consumed by it.
    assert (await api.get("/api/clients")).status_code == 200
    lost = await api.post("/api/clients", json={"name": "Lost Response Ltd"})
    assert lost.status_code == 502
    names = [c["name"] for c in emu.state.tables["clients"].values()]
    assert names.count("Lost Response Ltd") == 1


async def test_fail_after_n_and_error_rate(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    emu.rate_budget = RateBudget(1000, 5)
    emu.faults.fail_after_n = 3
    statuses = [(await api.get("/api/me")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 503, 503]
    emu.faults.clear()
    emu.faults.error_rate = 1.0
    emu.faults.error_status = 500
    assert (await api.get("/api/me")).status_code == 500
    emu.faults.error_rate = 0.0
    assert (await api.get("/api/me")).status_code == 200


async def test_latency_knob_delays_answers(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    emu.faults.latency_s = 0.02
    started = time.monotonic()
    response = await api.get("/api/me")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.02


async def test_request_log_records_every_request(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    await api.get("/api/invoices", params={"where": "status=paid"})
    await api.post("/api/clients", json={"name": "Logged"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=BASE) as anonymous:
        await anonymous.get("/api/me")
    log = emu.request_log
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/api/invoices", 200),
        ("POST", "/api/clients", 201),
        ("GET", "/api/me", 401),
    ]
    assert log[0].query == "where=status%3Dpaid"
    assert log[1].body == b'{"name":"Logged"}'


async def test_secrets_do_not_leak_into_answers(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    for path in ("/api/me", "/api/users", "/api/company", f"/api/users/{facts.BEN_ID}"):
        content = (await api.get(path)).content
        assert emu.api_key.encode() not in content
        assert facts.BEN_API_KEY.encode() not in content
        assert emu.password.encode() not in content


async def test_time_scale_shortens_the_window_its_headers_and_retry_after(clock: FakeClock) -> None:
    emu = PaymoEmulator(clock=clock, time_scale=10)
    assert emu.rate_budget == RateBudget(5, 0.5)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as api:
        for _ in range(5):
            response = await api.get("/api/me")
            assert response.headers["X-Ratelimit-Decay-Period"] == "0.5"
            clock.now += 0.05
        limited = await api.get("/api/me")
        # The first request leaves the window 0.25 s from now; the real service would say 3 of its 5 s.
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "0.3")
        assert (await api.get("/api/me")).status_code == 429  # persists until the window ends
        assert emu.throttled == 2
        clock.now += 0.3  # as long as Retry-After said
        assert (await api.get("/api/me")).status_code == 200
    assert emu.throttled == 2
    with pytest.raises(ValueError, match="time_scale"):
        PaymoEmulator(time_scale=0)
