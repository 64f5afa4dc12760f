"""HttpService against respx: what is retried, how long it waits, what is logged and raised."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import httpx
import pytest
import respx
from net_fakes import FakeClock

from paymo_qb_mcp.errors import Transient
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.http import USER_AGENT, HttpService
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.net.waits import report_waits

BASE = "https://api.example.test/v3/company/9130"


class RecordingLimiter(UnlimitedLimiter):
    def __init__(self) -> None:
        self.slots = 0
        self.observed: list[int] = []

    def slot(self) -> AbstractAsyncContextManager[None]:
        self.slots += 1
        return super().slot()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        self.observed.append(status)


def make_service(
    clock: FakeClock, limiter: RecordingLimiter | None = None, retry: RetryPolicy | None = None
) -> HttpService:
    return HttpService(
        service="qbo",
        base_url=BASE,
        limiter=limiter or RecordingLimiter(),
        retry=retry,
        sleep=clock.sleep,
        rng=random.Random(1),
        headers={"Authorization": "Bearer top-secret-token"},
    )


@respx.mock
async def test_a_read_is_retried_after_503_and_the_final_response_returned() -> None:
    clock = FakeClock()
    limiter = RecordingLimiter()
    route = respx.get(f"{BASE}/customer/1").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json={"ok": True})]
    )
    async with make_service(clock, limiter) as service:
        response = await service.request("GET", "customer/1", replay_safe=True)
    assert response.status_code == 200
    assert route.call_count == 3
    assert limiter.slots == 3
    assert limiter.observed == [503, 503, 200]
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5
    assert 0 <= clock.sleeps[1] <= 1.0


@respx.mock
async def test_a_write_without_idempotency_is_sent_once_despite_500() -> None:
    clock = FakeClock()
    route = respx.post(f"{BASE}/invoicepayments").mock(return_value=httpx.Response(500))
    async with make_service(clock) as service:
        response = await service.request(
            "POST", "invoicepayments", json_body={"amount": 1}, replay_safe=False
        )
    assert response.status_code == 500
    assert route.call_count == 1
    assert clock.sleeps == []


@respx.mock
async def test_429_is_retried_for_writes_after_exactly_retry_after() -> None:
    clock = FakeClock()
    route = respx.post(f"{BASE}/invoicepayments").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "4"}), httpx.Response(201, json={})]
    )
    async with make_service(clock) as service:
        response = await service.request("POST", "invoicepayments", json_body={}, replay_safe=False)
    assert response.status_code == 201
    assert route.call_count == 2
    assert clock.sleeps == [4.0]


@respx.mock
async def test_429_beyond_the_budget_returns_the_429_for_the_caller_to_map() -> None:
    clock = FakeClock()
    respx.get(f"{BASE}/customer/1").mock(return_value=httpx.Response(429, headers={"Retry-After": "500"}))
    async with make_service(clock) as service:
        response = await service.request("GET", "customer/1", replay_safe=True)
    assert response.status_code == 429
    assert clock.sleeps == []


@respx.mock
async def test_429_without_retry_after_waits_a_second_or_two_then_longer_and_announces_each_wait() -> None:
    clock = FakeClock()
    throttled = httpx.Response(429, content=b"<IntuitResponse/>")
    route = respx.get(f"{BASE}/customer/1").mock(
        side_effect=[throttled, throttled, throttled, httpx.Response(200, json={})]
    )
    heard: list[tuple[str, float, str]] = []
    with report_waits(lambda service, seconds, reason: heard.append((service, seconds, reason))):
        async with make_service(clock) as service:
            response = await service.request("GET", "customer/1", replay_safe=True)
    assert response.status_code == 200
    assert route.call_count == 4
    assert [low <= wait <= 2 * low for wait, low in zip(clock.sleeps, [1.0, 2.0, 4.0], strict=True)] == [
        True
    ] * 3
    assert [(name, seconds) for name, seconds, _ in heard] == [("qbo", wait) for wait in clock.sleeps]
    assert all("429 rate limited" in reason for _, _, reason in heard)


@respx.mock
async def test_an_extra_limiter_paces_and_sees_every_attempt() -> None:
    clock = FakeClock()
    limiter, batch = RecordingLimiter(), RecordingLimiter()
    respx.post(f"{BASE}/batch").mock(side_effect=[httpx.Response(429), httpx.Response(200, json={})])
    async with make_service(clock, limiter) as service:
        await service.request("POST", "batch", json_body={}, replay_safe=True, extra_limiter=batch)
    assert (batch.slots, batch.observed) == (2, [429, 200])
    assert (limiter.slots, limiter.observed) == (2, [429, 200])


@respx.mock
async def test_client_errors_come_back_at_once() -> None:
    clock = FakeClock()
    route = respx.get(f"{BASE}/customer/1").mock(return_value=httpx.Response(400, json={"message": "bad"}))
    async with make_service(clock) as service:
        response = await service.request("GET", "customer/1", replay_safe=True)
    assert response.status_code == 400
    assert route.call_count == 1


@respx.mock
async def test_a_write_that_could_not_connect_is_retried_because_it_was_never_sent() -> None:
    clock = FakeClock()
    route = respx.post(f"{BASE}/invoice").mock(
        side_effect=[httpx.ConnectError("connection refused"), httpx.Response(200, json={})]
    )
    async with make_service(clock) as service:
        response = await service.request("POST", "invoice", json_body={}, replay_safe=False)
    assert response.status_code == 200
    assert route.call_count == 2


@respx.mock
async def test_a_write_that_timed_out_reading_is_not_repeated_and_says_so() -> None:
    clock = FakeClock()
    route = respx.post(f"{BASE}/invoice").mock(side_effect=httpx.ReadTimeout("read timed out"))
    async with make_service(clock) as service:
        with pytest.raises(Transient) as caught:
            await service.request("POST", "invoice", json_body={}, replay_safe=False)
    assert route.call_count == 1
    error = caught.value
    assert error.service == "qbo"
    assert error.request is not None
    assert error.request.method == "POST"
    assert error.request.url == f"{BASE}/invoice"
    assert error.request.headers["authorization"] == "***"
    assert "may or may not have applied it" in error.message
    assert "ReadTimeout" in error.message


@respx.mock
async def test_reads_failing_on_the_network_give_up_after_max_attempts() -> None:
    clock = FakeClock()
    route = respx.get(f"{BASE}/customer/1").mock(side_effect=httpx.ReadError("reset by peer"))
    policy = RetryPolicy(max_attempts=3)
    async with make_service(clock, retry=policy) as service:
        with pytest.raises(Transient, match="after 3 attempt"):
            await service.request("GET", "customer/1", replay_safe=True)
    assert route.call_count == 3
    assert len(clock.sleeps) == 2


@respx.mock
async def test_every_retry_is_logged_with_a_redacted_url_and_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    respx.get(f"{BASE}/query").mock(side_effect=[httpx.Response(502), httpx.Response(200, json={})])
    caplog.set_level(logging.WARNING, logger="paymo_qb_mcp.net.http")
    async with make_service(clock) as service:
        await service.request(
            "GET", "query", params={"query": "select", "access_token": "leak"}, replay_safe=True
        )
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "502 server error" in text
    assert "access_token=***" in text
    assert "leak" not in text
    assert "retry 1 of 4" in text


@respx.mock
async def test_json_bodies_go_out_with_exact_decimals_and_default_headers() -> None:
    clock = FakeClock()
    route = respx.post(f"{BASE}/payment").mock(return_value=httpx.Response(200, json={}))
    async with make_service(clock) as service:
        await service.request(
            "POST",
            "payment",
            params={"requestid": "r1"},
            json_body={"TotalAmt": Decimal("1911.60")},
            replay_safe=True,
        )
    sent = route.calls.last.request
    assert sent.content == b'{"TotalAmt":1911.60}'
    assert jsonwire.loads(sent.content) == {"TotalAmt": Decimal("1911.60")}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["user-agent"] == USER_AGENT
    assert sent.url.params["requestid"] == "r1"


async def test_request_info_names_the_upstream_request_id() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda request: httpx.Response(400, headers={"intuit_tid": "1-66a"}))
    service = HttpService(
        service="qbo", base_url=BASE, transport=transport, limiter=UnlimitedLimiter(), sleep=clock.sleep
    )
    async with service:
        response = await service.request("GET", "customer/1", replay_safe=True)
    info = service.request_info(response.request, response)
    assert info.upstream_request_id == "1-66a"
    assert info.url == f"{BASE}/customer/1"


async def test_json_body_and_content_are_exclusive() -> None:
    service = HttpService(service="qbo", base_url=BASE, limiter=UnlimitedLimiter())
    with pytest.raises(ValueError, match="not both"):
        await service.request("POST", "x", json_body={}, content=b"{}", replay_safe=False)
    await service.aclose()
