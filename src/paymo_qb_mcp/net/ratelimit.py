"""Client-side rate limiters: one per service and per QBO realm or Paymo API key, shared process-wide."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio

from paymo_qb_mcp.net.retry import parse_retry_after

__all__ = [
    "PaymoPacer",
    "QboRealmLimiter",
    "RateLimiter",
    "UnlimitedLimiter",
    "clear_limiters",
    "key_fingerprint",
    "limiter_for",
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
    """At most ``limit`` requests in any ``period`` seconds; the services count the same way."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.hits: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self.hits and self.hits[0] + self.period <= now:
            self.hits.popleft()

    def wait_time(self, now: float) -> float:
        self._expire(now)
        if len(self.hits) < self.limit:
            return 0.0
        # After a limit shrinks, several of the oldest hits must leave before there is room again.
        return self.hits[len(self.hits) - self.limit] + self.period - now

    def record(self, now: float, count: int = 1) -> None:
        self.hits.extend([now] * count)

    def used(self, now: float) -> int:
        self._expire(now)
        return len(self.hits)


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
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._windows = windows
        self._gate = _ConcurrencyGate(max_concurrent, self._lock) if max_concurrent else None
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")

    def _reserve(self) -> float:
        """Record a send and return 0, or return how long to wait before trying again."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            wait = max((window.wait_time(now) for window in self._windows), default=0.0)
            if wait > 0:
                return wait
            for window in self._windows:
                window.record(now)
            return 0.0

    def _pause_for(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

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
            while (wait := self._reserve()) > 0:
                await self._sleep(wait)
            yield
        finally:
            if self._gate is not None:
                self._gate.release()

    def slot(self) -> AbstractAsyncContextManager[None]:
        return self._slot()


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
    """One QBO realm: 500 requests/minute, 10/second, a few in flight; a 429 pauses the whole realm."""

    def __init__(
        self,
        *,
        per_minute: int = 500,
        per_second: int = 10,
        max_concurrent: int = 4,
        default_pause: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if min(per_minute, per_second, max_concurrent) < 1:
            raise ValueError("QBO limits must allow at least one request")
        super().__init__(
            [_SlidingWindow(per_minute, 60.0), _SlidingWindow(per_second, 1.0)],
            max_concurrent=max_concurrent,
            clock=clock,
            sleep=sleep,
        )
        # Intuit asks for 60 s after a 429; whether QBO sends Retry-After is undocumented.
        self._default_pause = default_pause

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        if status == 429:
            retry_after = parse_retry_after(_header(headers, "Retry-After"))
            self._pause_for(self._default_pause if retry_after is None else retry_after)


class PaymoPacer(_PacedLimiter):
    """One Paymo API key, paced from ``X-Ratelimit-*`` headers; until a response says otherwise,
    the 5 requests per 5 seconds live clients observed."""

    def __init__(
        self,
        *,
        initial_limit: int = 5,
        initial_period: float = 5.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if initial_limit < 1 or initial_period <= 0:
            raise ValueError("the initial Paymo budget must allow at least one request per period")
        self._window = _SlidingWindow(initial_limit, initial_period)
        super().__init__([self._window], max_concurrent=None, clock=clock, sleep=sleep)

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
            retry_after = parse_retry_after(_header(headers, "Retry-After"))
            self._pause_for(self._window.period if retry_after is None else retry_after)


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
