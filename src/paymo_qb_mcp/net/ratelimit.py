"""Client-side rate limiters: one per service and per QBO realm or Paymo API key, shared process-wide."""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio

from paymo_qb_mcp.net.retry import parse_retry_after, throttle_backoff
from paymo_qb_mcp.net.waits import REPORT_AFTER_S, announce_wait

__all__ = [
    "PaymoPacer",
    "QboRealmLimiter",
    "RateLimiter",
    "UnlimitedLimiter",
    "clear_limiters",
    "key_fingerprint",
    "limiter_for",
    "qbo_batch_limiter",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter(Protocol):
    """What the HTTP layer needs: a slot to send in, and a look at every response."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait until a request may be sent; hold the slot while it is in flight."""
        ...

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response (rate headers, 429)."""
        ...


class UnlimitedLimiter:
    """Lets every request through at once: for emulators with relaxed budgets and for tests."""

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        yield

    def slot(self) -> AbstractAsyncContextManager[None]:
        return self._slot()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        return None


class _SlidingWindow:
    """At most ``limit`` requests in any ``period`` seconds, never freeing a slot before the service does.

    The services count a request when it arrives, which is after we reserve its slot and before its
    answer reaches us. So a request holds its slot from the reservation until its answer, and then for
    a whole period from the answer: whatever the time on the wire, the service's count has dropped it
    before ours does. (Counted from the reservation alone, a slot came free up to one transit time
    early, and a paced run met throttles from an emulator with QBO's real limits.)
    """

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.hits: deque[float] = deque()  # answered or reported requests, oldest first
        self.in_flight = 0

    def _expire(self, now: float) -> None:
        while self.hits and self.hits[0] + self.period <= now:
            self.hits.popleft()

    def wait_time(self, now: float) -> float:
        self._expire(now)
        used = len(self.hits) + self.in_flight
        if used < self.limit:
            return 0.0
        # After a limit shrinks, several of the oldest hits must leave before there is room again.
        index = used - self.limit
        if index < len(self.hits):
            return self.hits[index] + self.period - now
        # A slot still in flight frees a period after its answer, so no sooner than a period from now.
        return self.period

    def reserve(self) -> None:
        self.in_flight += 1

    def settle(self, now: float) -> None:
        """The request reserved earlier has its answer (or its failure) now."""
        self.in_flight = max(self.in_flight - 1, 0)
        self.hits.append(now)

    def record(self, now: float, count: int = 1) -> None:
        self.hits.extend([now] * count)

    def used(self, now: float) -> int:
        self._expire(now)
        return len(self.hits) + self.in_flight

    def describe(self) -> str:
        return f"{self.limit} requests per {self.period:g} s"


class _ConcurrencyGate:
    """A first-come, first-served counting gate whose waiters are created inside the running loop.

    A limiter lives for the whole process while event loops come and go (one per CLI command, one
    per test), so it must not hold loop-bound primitives between uses the way a long-lived
    semaphore would.
    """

    def __init__(self, limit: int, lock: threading.Lock) -> None:
        self.limit = limit
        self._active = 0
        self._waiters: deque[anyio.Event] = deque()
        self._lock = lock

    async def acquire(self) -> None:
        with self._lock:
            if self._active < self.limit and not self._waiters:
                self._active += 1
                return
            event = anyio.Event()
            self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            with self._lock:
                if event in self._waiters:
                    self._waiters.remove(event)
                    raise
            # The slot was handed over just as we were cancelled: pass it on, then leave.
            self.release()
            raise

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                # The slot goes straight to the next waiter, so the active count stays the same.
                self._waiters.popleft().set()
            else:
                self._active -= 1


class _PacedLimiter:
    """Sliding windows + a concurrency gate + a pause after 429; the two service limiters build on it."""

    def __init__(
        self,
        windows: list[_SlidingWindow],
        *,
        max_concurrent: int | None,
        service: str,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._windows = windows
        self._gate = _ConcurrencyGate(max_concurrent, self._lock) if max_concurrent else None
        self.service = service
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")
        # Throttles in a row, one per pause: the next pause without a Retry-After grows with it.
        self._throttles = 0

    def _reserve(self) -> tuple[float, str]:
        """Reserve a slot in every window and return 0, or return how long to wait and why."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now, "the service throttled us (429); pausing before asking again"
            wait, window = max(
                ((window.wait_time(now), window) for window in self._windows),
                key=lambda pair: pair[0],
                default=(0.0, None),
            )
            if wait > 0 and window is not None:
                return wait, f"pacing to the rate limit of {window.describe()}"
            for window in self._windows:
                window.reserve()
            return 0.0, ""

    def _settle(self) -> None:
        with self._lock:
            now = self._clock()
            for window in self._windows:
                window.settle(now)

    def _throttled(self, retry_after: float | None, pause: Callable[[int], float]) -> None:
        """A 429: pause for ``retry_after``, else for ``pause(n)`` where n counts throttles in a row
        (a 429 while already paused belongs to the same burst and does not count again)."""
        with self._lock:
            now = self._clock()
            if retry_after is None:
                if now >= self._paused_until:
                    self._throttles += 1
                seconds = pause(self._throttles)
            else:
                seconds = retry_after
            self._paused_until = max(self._paused_until, now + seconds)

    def _answered(self) -> None:
        with self._lock:
            if self._clock() >= self._paused_until:
                self._throttles = 0

    @property
    def paused_for(self) -> float:
        """Seconds until a pause set by a 429 ends (0 when not paused)."""
        with self._lock:
            return max(self._paused_until - self._clock(), 0.0)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._gate is not None:
            await self._gate.acquire()
        try:
            while True:
                wait, reason = self._reserve()
                if wait <= 0:
                    break
                if wait >= REPORT_AFTER_S:
                    await announce_wait(self.service, wait, reason)
                await self._sleep(wait)
            try:
                yield
            finally:
                self._settle()
        finally:
            if self._gate is not None:
                self._gate.release()

    def slot(self) -> AbstractAsyncContextManager[None]:
        return self._slot()


def _check_time_scale(time_scale: float) -> None:
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale must be a positive number, not {time_scale!r}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def _smallest_number(value: str | None) -> float | None:
    """The smallest entry of ``"5"`` or ``"5, 100"``: several buckets may be reported in one header."""
    if value is None:
        return None
    numbers: list[float] = []
    for part in value.split(","):
        try:
            numbers.append(float(part.strip()))
        except ValueError:
            continue
    return min(numbers) if numbers else None


class QboRealmLimiter(_PacedLimiter):
    """One QBO realm: 500 requests/minute, 10/second, a few in flight; a 429 pauses the whole realm.

    A 429 pauses for its Retry-After, else for ``first_pause`` seconds (with jitter up to twice that),
    doubling with each throttle in a row up to ``max_pause``. ``time_scale`` makes every window and
    pause that many times shorter, to pace against an emulator whose limits are scaled the same way
    (a Retry-After is the service's own figure and is taken as it is).
    """

    def __init__(
        self,
        *,
        per_minute: int = 500,
        per_second: int = 10,
        max_concurrent: int = 4,
        first_pause: float = 1.0,
        max_pause: float = 60.0,
        time_scale: float = 1.0,
        service: str = "quickbooks",
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if min(per_minute, per_second, max_concurrent) < 1:
            raise ValueError("QBO limits must allow at least one request")
        _check_time_scale(time_scale)
        if min(first_pause, max_pause) < 0:
            raise ValueError("pauses must not be negative")
        super().__init__(
            [_SlidingWindow(per_minute, 60.0 / time_scale), _SlidingWindow(per_second, 1.0 / time_scale)],
            max_concurrent=max_concurrent,
            service=service,
            clock=clock,
            sleep=sleep,
        )
        self.time_scale = time_scale
        self._first_pause = first_pause / time_scale
        self._max_pause = max_pause / time_scale
        self._rng = rng or random.Random()

    def _pause(self, throttles: int) -> float:
        # Intuit's advice is a flat 60 s; whether QBO sends Retry-After is undocumented (reference §6).
        return throttle_backoff(throttles, first=self._first_pause, cap=self._max_pause, rng=self._rng)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        if status == 429:
            self._throttled(parse_retry_after(_header(headers, "Retry-After")), self._pause)
        else:
            self._answered()


def qbo_batch_limiter(*, time_scale: float = 1.0) -> QboRealmLimiter:
    """QBO's batch budget for one realm and app, 40 batch requests per minute (reference §3.7, §6), for
    the requests to ``/batch`` on top of the realm's own limiter, which counts them like any other."""
    return QboRealmLimiter(per_minute=40, time_scale=time_scale)


class PaymoPacer(_PacedLimiter):
    """One Paymo API key, paced from ``X-Ratelimit-*`` headers; until a response says otherwise,
    the 5 requests per 5 seconds live clients observed (``time_scale`` times shorter: the headers are
    the service's own figures and are taken as they are)."""

    def __init__(
        self,
        *,
        initial_limit: int = 5,
        initial_period: float = 5.0,
        time_scale: float = 1.0,
        service: str = "paymo",
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if initial_limit < 1 or initial_period <= 0:
            raise ValueError("the initial Paymo budget must allow at least one request per period")
        _check_time_scale(time_scale)
        self._window = _SlidingWindow(initial_limit, initial_period / time_scale)
        self.time_scale = time_scale
        super().__init__([self._window], max_concurrent=None, service=service, clock=clock, sleep=sleep)

    @property
    def limit(self) -> int:
        return self._window.limit

    @property
    def period(self) -> float:
        return self._window.period

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        limit = _smallest_number(_header(headers, "X-Ratelimit-Limit"))
        period = _smallest_number(_header(headers, "X-Ratelimit-Decay-Period"))
        remaining = _smallest_number(_header(headers, "X-Ratelimit-Remaining"))
        with self._lock:
            if limit is not None and limit >= 1:
                self._window.limit = int(limit)
            if period is not None and period > 0:
                self._window.period = period
            # After a 429, Retry-After says exactly when a slot frees; the remaining count would only
            # make us wait a whole period instead.
            if remaining is not None and status != 429:
                # Other programs may spend the same key: when Paymo has fewer requests left than we
                # think, count the difference as sent now, so our window never runs ahead of theirs.
                now = self._clock()
                ours_left = self._window.limit - self._window.used(now)
                unseen = ours_left - max(int(remaining), 0)
                if unseen > 0:
                    self._window.record(now, unseen)
        if status == 429:
            # Paymo sends Retry-After (reference §5); without one, the window's length is the safe wait.
            self._throttled(parse_retry_after(_header(headers, "Retry-After")), lambda _: self._window.period)
        else:
            self._answered()


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(service: str, key: str, factory: Callable[[], RateLimiter]) -> RateLimiter:
    """The process-wide limiter for ``service`` and ``key`` (a QBO realm id, or ``key_fingerprint``
    of a Paymo API key), made with ``factory`` on first use, so every client of one budget shares it."""
    with _registry_lock:
        limiter = _registry.get((service, key))
        if limiter is None:
            limiter = factory()
            _registry[(service, key)] = limiter
        return limiter


def clear_limiters() -> None:
    """Forget every shared limiter (tests; a credentials change)."""
    with _registry_lock:
        _registry.clear()


def key_fingerprint(secret: str) -> str:
    """A stable, non-reversible name for a secret, so registries and logs never hold the key itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
