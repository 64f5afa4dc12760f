"""Client-side limiters, driven by a fake clock: QBO per-realm windows and concurrency, Paymo pacing."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
import pytest
from net_fakes import FakeClock

from paymo_qb_mcp.net.ratelimit import (
    PaymoPacer,
    QboRealmLimiter,
    RateLimiter,
    UnlimitedLimiter,
    clear_limiters,
    key_fingerprint,
    limiter_for,
    qbo_batch_limiter,
)
from paymo_qb_mcp.net.waits import report_waits


async def send_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        async with limiter.slot():
            times.append(clock.now - 1000.0)
    return times


async def test_qbo_allows_ten_per_second_then_waits_for_the_window() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(clock=clock, sleep=clock.sleep)
    times = await send_times(limiter, clock, 25)
    assert times[:10] == [0.0] * 10
    assert times[10:20] == [1.0] * 10
    assert times[20:] == [2.0] * 5


async def test_qbo_per_minute_budget_holds_across_seconds() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(per_minute=30, per_second=10, clock=clock, sleep=clock.sleep)
    times = await send_times(limiter, clock, 31)
    assert times[29] == 2.0
    assert times[30] == 60.0  # the first request leaves the one-minute window


async def test_qbo_429_pauses_the_realm_for_retry_after_else_from_a_second_or_two_growing() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(clock=clock, sleep=clock.sleep, rng=random.Random(4))
    limiter.observe(429, {"retry-after": "7"})
    assert limiter.paused_for == 7.0
    assert await send_times(limiter, clock, 1) == [7.0]
    pauses = []
    for _ in range(8):
        limiter.observe(429, {})
        pauses.append(limiter.paused_for)
        clock.now += limiter.paused_for  # the pause ends; the next 429 is a throttle in a row
    assert [(low <= pause <= high) for pause, (low, high) in zip(pauses, PAUSES, strict=True)] == [True] * 8
    limiter.observe(200, {})
    limiter.observe(429, {})
    assert 1.0 <= limiter.paused_for <= 2.0  # an answer after the pause starts the count again
    limiter.observe(200, {"Retry-After": "100"})
    assert limiter.paused_for <= 2.0


PAUSES = [(1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 60), (60, 60), (60, 60)]


async def test_429s_of_one_burst_do_not_grow_the_pause() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(clock=clock, sleep=clock.sleep, rng=random.Random(4))
    for _ in range(4):  # four requests in flight, all throttled
        limiter.observe(429, {})
    assert 1.0 <= limiter.paused_for <= 2.0


async def test_a_request_answered_late_holds_its_slot_a_period_past_its_answer() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(initial_limit=1, initial_period=1.0, clock=clock, sleep=clock.sleep)
    async with pacer.slot():
        clock.now += 0.7  # the answer arrives late; the service counted the request somewhere in between
    # Counted from the reservation, the slot would be free at 1.0, possibly before the service's.
    assert await send_times(pacer, clock, 1) == [pytest.approx(1.7)]


async def test_a_slot_in_flight_longer_than_the_window_stays_taken_until_its_answer() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(per_second=1, clock=clock, sleep=clock.sleep)
    answered_at: list[float] = []
    sent_at: list[float] = []
    on_the_wire = anyio.Event()

    async def slow() -> None:
        async with limiter.slot():
            on_the_wire.set()
            while clock.now < 1003.0:  # three seconds on the wire, while the other waits
                await anyio.lowlevel.checkpoint()
            answered_at.append(clock.now)

    async def next_one() -> None:
        async with limiter.slot():
            sent_at.append(clock.now)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            await on_the_wire.wait()
            group.start_soon(next_one)
    assert sent_at[0] == answered_at[0] + 1.0
    assert sent_at[0] >= 1004.0


async def test_time_scale_shortens_every_window_and_pause() -> None:
    clock = FakeClock()
    limiter = QboRealmLimiter(time_scale=10, clock=clock, sleep=clock.sleep, rng=random.Random(1))
    times = await send_times(limiter, clock, 21)
    assert times == pytest.approx([0.0] * 10 + [0.1] * 10 + [0.2])
    limiter.observe(429, {})
    assert 0.1 <= limiter.paused_for <= 0.2
    limiter.observe(429, {"Retry-After": "3"})
    assert limiter.paused_for == pytest.approx(3.0)  # the service's own figure is not scaled

    clock = FakeClock()
    per_minute = QboRealmLimiter(per_minute=30, per_second=30, time_scale=10, clock=clock, sleep=clock.sleep)
    assert (await send_times(per_minute, clock, 31))[30] == pytest.approx(6.0)

    clock = FakeClock()
    batches = qbo_batch_limiter(time_scale=10)
    assert [(window.limit, window.period) for window in batches._windows] == [(40, 6.0), (10, 0.1)]

    pacer = PaymoPacer(time_scale=10, clock=clock, sleep=clock.sleep)
    assert (pacer.limit, pacer.period) == (5, 0.5)
    assert await send_times(pacer, clock, 6) == pytest.approx([0.0] * 5 + [0.5])
    for nonsense in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="time_scale"):
            QboRealmLimiter(time_scale=nonsense)
        with pytest.raises(ValueError, match="time_scale"):
            PaymoPacer(time_scale=nonsense)


async def test_long_waits_are_announced_to_the_reporter_short_ones_are_not() -> None:
    clock = FakeClock()
    heard: list[tuple[str, float, str]] = []
    limiter = QboRealmLimiter(clock=clock, sleep=clock.sleep)
    with report_waits(lambda service, seconds, reason: heard.append((service, seconds, reason))):
        await send_times(limiter, clock, 11)  # the eleventh waits a whole second for the window
        limiter.observe(429, {"Retry-After": "7"})
        await send_times(limiter, clock, 1)
        fast = QboRealmLimiter(time_scale=4, clock=clock, sleep=clock.sleep)
        await send_times(fast, clock, 11)  # a quarter of a second: ordinary pacing, not announced
    assert [(service, seconds) for service, seconds, _ in heard] == [("quickbooks", 1.0), ("quickbooks", 7.0)]
    assert "10 requests per 1 s" in heard[0][2]
    assert "429" in heard[1][2]
    assert clock.sleeps[-1] == 0.25


async def test_qbo_limits_requests_in_flight_first_come_first_served() -> None:
    limiter = QboRealmLimiter(max_concurrent=4)
    in_flight: list[int] = []
    entered: list[int] = []
    peak = 0
    release = anyio.Event()

    async def call(number: int) -> None:
        nonlocal peak
        async with limiter.slot():
            entered.append(number)
            in_flight.append(number)
            peak = max(peak, len(in_flight))
            await release.wait()
            in_flight.remove(number)

    with anyio.fail_after(5):  # a lost wake-up would hang rather than fail
        async with anyio.create_task_group() as group:
            for number in range(9):
                group.start_soon(call, number)
                await anyio.wait_all_tasks_blocked()
            assert in_flight == [0, 1, 2, 3]
            release.set()
    assert peak == 4
    assert entered == list(range(9))


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    limiter = QboRealmLimiter(max_concurrent=1)
    entered: list[str] = []
    hold = anyio.Event()

    async def holder() -> None:
        async with limiter.slot():
            entered.append("holder")
            await hold.wait()

    async def waiter(name: str) -> None:
        async with limiter.slot():
            entered.append(name)

    with anyio.fail_after(5):  # a lost wake-up would hang rather than fail
        async with anyio.create_task_group() as group:
            group.start_soon(holder)
            await anyio.wait_all_tasks_blocked()
            with anyio.CancelScope() as scope:
                scope.cancel()
                await waiter("cancelled")
            group.start_soon(waiter, "next")
            await anyio.wait_all_tasks_blocked()
            hold.set()
        assert entered == ["holder", "next"]
        async with limiter.slot():
            pass  # the gate is free again


async def test_paymo_pacer_starts_at_five_per_five_seconds() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(clock=clock, sleep=clock.sleep)
    times = await send_times(pacer, clock, 11)
    assert times == [0.0] * 5 + [5.0] * 5 + [10.0]


async def test_paymo_pacer_adapts_to_headers_taking_the_smallest_bucket() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(clock=clock, sleep=clock.sleep)
    pacer.observe(
        200, {"X-Ratelimit-Limit": "100, 3", "X-Ratelimit-Decay-Period": "2", "X-Ratelimit-Remaining": "3"}
    )
    assert (pacer.limit, pacer.period) == (3, 2.0)
    assert await send_times(pacer, clock, 7) == [0.0] * 3 + [2.0] * 3 + [4.0]


async def test_paymo_pacer_counts_requests_it_did_not_see() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(clock=clock, sleep=clock.sleep)
    await send_times(pacer, clock, 1)
    # Another program spent three more of the key's five.
    pacer.observe(
        200, {"x-ratelimit-limit": "5", "x-ratelimit-remaining": "1", "x-ratelimit-decay-period": "5"}
    )
    assert await send_times(pacer, clock, 2) == [0.0, 5.0]


async def test_paymo_pacer_ignores_malformed_headers() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(clock=clock, sleep=clock.sleep)
    pacer.observe(
        200, {"X-Ratelimit-Limit": "lots", "X-Ratelimit-Decay-Period": "0", "X-Ratelimit-Remaining": ""}
    )
    assert (pacer.limit, pacer.period) == (5, 5.0)


async def test_paymo_pacer_429_pauses_for_retry_after_else_the_decay_period() -> None:
    clock = FakeClock()
    pacer = PaymoPacer(clock=clock, sleep=clock.sleep)
    pacer.observe(429, {"Retry-After": "3", "X-Ratelimit-Remaining": "0"})
    assert await send_times(pacer, clock, 1) == [3.0]
    clock.now += 10
    pacer.observe(429, {})
    assert pacer.paused_for == 5.0


def test_limiter_registry_shares_one_limiter_per_service_and_key() -> None:
    clear_limiters()
    made: list[RateLimiter] = []

    def factory() -> RateLimiter:
        limiter = UnlimitedLimiter()
        made.append(limiter)
        return limiter

    first = limiter_for("qbo", "9130", factory)
    assert limiter_for("qbo", "9130", factory) is first
    assert limiter_for("qbo", "4620", factory) is not first
    assert limiter_for("paymo", "9130", factory) is not first
    assert len(made) == 3
    clear_limiters()
    assert limiter_for("qbo", "9130", factory) is not first


def test_key_fingerprint_is_stable_and_hides_the_key() -> None:
    secret = "pk_live_abcdef123456"
    assert key_fingerprint(secret) == key_fingerprint(secret)
    assert key_fingerprint(secret) != key_fingerprint(secret + "x")
    assert "abcdef" not in key_fingerprint(secret)


def test_nonsense_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        QboRealmLimiter(max_concurrent=0)
    with pytest.raises(ValueError, match="at least one"):
        PaymoPacer(initial_limit=0)
