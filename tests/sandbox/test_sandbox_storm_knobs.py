"""The fault knobs fault storms use (sandbox/faults.py), off by default: 429 bursts with or without
Retry-After, mixed 5xx, random lost responses on writes, and answers held back after the work is done —
on the knobs themselves and through both emulators."""

from __future__ import annotations

import time
from collections import Counter

import httpx
from test_qbo_harness import FakeClock, emulator, open_qbo, parse

from paymo_qb_mcp.sandbox.faults import Faults
from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as paymo_facts

PAYMO_BASE = "https://app.paymoapp.com"


def test_every_storm_knob_is_off_by_default() -> None:
    faults = Faults()
    assert faults.throttle(0.0) is None
    assert faults.slow_answer() == 0.0
    assert faults.take_scripted("POST", "/v3/company/1/invoice") is None
    assert faults.random_failure() is None


def test_a_burst_throttles_every_request_until_it_ends_then_may_start_again() -> None:
    faults = Faults(burst_rate=1.0, burst_s=2.0)
    assert faults.throttle(10.0) == 2.0  # this request starts the burst
    assert faults.throttle(11.5) == 0.5
    faults.burst_rate = 0.0
    assert faults.throttle(12.0) is None  # it is over, and no new one starts
    faults.burst_rate = 1.0
    assert faults.throttle(12.5) == 2.0
    faults.clear()
    assert faults.throttle(13.0) is None


def test_random_failures_draw_their_status_from_error_statuses() -> None:
    faults = Faults(error_rate=1.0, error_statuses=(500, 502, 503, 504), seed=3)
    drawn = Counter(faults.random_failure() for _ in range(200))
    assert set(drawn) == {500, 502, 503, 504}
    assert Faults(error_rate=1.0, error_status=502).random_failure() == 502


def test_random_lost_responses_hit_writes_only_and_after_the_commit() -> None:
    faults = Faults(lost_rate=1.0, lost_status=504)
    assert faults.take_scripted("GET", "/api/invoices") is None
    lost = faults.take_scripted("PUT", "/api/invoices/1")
    assert lost is not None
    assert (lost.status, lost.after_commit) == (504, True)
    # A scripted fault still comes first.
    faults.fail_next(1, status=503, method="POST")
    scripted = faults.take_scripted("POST", "/api/invoicepayments")
    assert scripted is not None
    assert (scripted.status, scripted.after_commit) == (503, False)


def test_slow_answers_are_a_random_share() -> None:
    faults = Faults(slow_rate=0.25, slow_s=1.5, seed=5)
    delays = Counter(faults.slow_answer() for _ in range(400))
    assert set(delays) == {0.0, 1.5}
    assert 60 < delays[1.5] < 140


async def test_a_qbo_burst_answers_429_with_the_time_left_or_without_it() -> None:
    clock = FakeClock()
    async with open_qbo(emulator(clock=clock, time_scale=10.0)) as qbo:
        qbo.emu.faults = Faults(burst_rate=1.0, burst_s=0.35)
        throttled = await qbo.request("GET", "customer/1")
        assert throttled.status_code == 429
        assert throttled.headers["content-type"].startswith("application/xml")
        assert throttled.headers["Retry-After"] == "0.4"  # whole seconds at scale 10, rounded up
        clock.advance(0.2)
        assert (await qbo.request("GET", "customer/1")).headers["Retry-After"] == "0.2"
        qbo.emu.faults.burst_rate = 0.0
        clock.advance(0.2)
        assert (await qbo.request("GET", "customer/1")).status_code == 200

        qbo.emu.faults = Faults(burst_rate=1.0, burst_s=1.0, burst_retry_after=False)
        silent = await qbo.request("GET", "customer/1")
        assert silent.status_code == 429
        assert "Retry-After" not in silent.headers


async def test_a_random_lost_response_on_qbo_applies_the_write_and_a_requestid_replays_it() -> None:
    async with open_qbo(emulator()) as qbo:
        qbo.emu.faults = Faults(lost_rate=1.0, lost_status=502)
        payload = {"DisplayName": "Storm Lost Ltd"}
        lost = await qbo.request("POST", "customer", payload=payload, params={"requestid": "storm-1"})
        assert lost.status_code == 502
        qbo.emu.faults.clear()
        replayed = await qbo.request("POST", "customer", payload=payload, params={"requestid": "storm-1"})
        assert replayed.status_code == 200
        count = await qbo.query("select count(*) from Customer where DisplayName = 'Storm Lost Ltd'")
        assert count["totalCount"] == 1
        assert parse(replayed)["Customer"]["DisplayName"] == "Storm Lost Ltd"


async def test_a_slow_qbo_answer_comes_late_after_the_write_is_done() -> None:
    async with open_qbo(emulator()) as qbo:
        qbo.emu.faults = Faults(slow_rate=1.0, slow_s=0.05)
        started = time.monotonic()
        response = await qbo.request("POST", "customer", payload={"DisplayName": "Slow Answer Co"})
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.05
        assert qbo.emu.request_log[-1].status == 200


async def test_paymo_bursts_lost_responses_and_slow_answers() -> None:
    clock = FakeClock()
    emu = PaymoEmulator(clock=clock, rate_limits="relaxed", time_scale=10.0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=PAYMO_BASE, auth=(emu.api_key, "X")
    ) as api:
        emu.faults = Faults(burst_rate=1.0, burst_s=0.25)
        throttled = await api.get("/api/me")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "0.3"
        assert throttled.headers["X-Ratelimit-Limit"] == "1000"
        emu.faults = Faults(burst_rate=1.0, burst_s=0.25, burst_retry_after=False)
        assert "Retry-After" not in (await api.get("/api/me")).headers

        emu.faults = Faults(lost_rate=1.0, lost_status=504)
        invoice_id = paymo_facts.INVOICE_IDS["INV-2026-1041"]
        lost = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": 10})
        assert lost.status_code == 504
        amounts = [p["amount"] for p in emu.state.tables["invoicepayments"].values()]
        assert len(amounts) == 3  # the two seeded payments and the one whose answer was lost

        emu.faults = Faults(slow_rate=1.0, slow_s=0.05)
        started = time.monotonic()
        assert (await api.get("/api/me")).status_code == 200
        assert time.monotonic() - started >= 0.05
