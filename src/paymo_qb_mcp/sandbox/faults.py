"""Fault knobs, rate budgets and the request log shared by both emulators, apart from faithful behaviour."""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class RateBudget:
    """`limit` requests per `period_s` seconds (a sliding window)."""

    limit: int
    period_s: float

    def scaled(self, time_scale: float) -> RateBudget:
        """The same count in a window `time_scale` times shorter."""
        return RateBudget(self.limit, self.period_s / check_time_scale(time_scale))


def check_time_scale(time_scale: float) -> float:
    """`time_scale` if it can shorten a window (a positive, finite number); else ValueError."""
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale must be a positive number, not {time_scale!r}")
    return time_scale


def seconds_text(seconds: float) -> str:
    """A header's seconds: whole numbers as integers (what the real services send), others exactly."""
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


def retry_after(reset_in: float, time_scale: float = 1.0) -> str:
    """`Retry-After` for a window that frees in `reset_in` seconds: the whole seconds, at least one, that
    the real service would send, shortened by `time_scale` like the window itself."""
    return seconds_text(max(1, math.ceil(reset_in * time_scale)) / time_scale)


class SlidingWindow:
    """Counts requests in a sliding window and tells when the oldest one leaves it."""

    def __init__(self, budget: RateBudget, clock: Clock = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._hits: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._hits and now - self._hits[0] >= self.budget.period_s:
            self._hits.popleft()

    def hit(self) -> tuple[bool, int, float]:
        """Record one request if allowed. Returns (allowed, remaining, seconds until a slot frees)."""
        now = self._clock()
        self._expire(now)
        if len(self._hits) >= self.budget.limit:
            reset_in = self.budget.period_s - (now - self._hits[0])
            return False, 0, max(reset_in, 0.0)
        self._hits.append(now)
        remaining = self.budget.limit - len(self._hits)
        reset_in = self.budget.period_s - (now - self._hits[0])
        return True, remaining, max(reset_in, 0.0)

    def reset(self) -> None:
        self._hits.clear()


@dataclass
class ScriptedFault:
    """A one-shot fault: the next `remaining` matching requests fail with `status`."""

    remaining: int
    status: int
    method: str | None = None
    path_contains: str | None = None
    after_commit: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path


# Methods whose requests can change state: the ones a random lost response (`lost_rate`) picks from.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Faults:
    """Injectable failures. All off by default: a default emulator behaves like the real service.

    - `latency_s`: added to every request.
    - `error_rate` / `error_status`: a random fraction of requests fails before touching state
      (`error_statuses`, when given, draws each failure's status from them instead: mixed 5xx).
    - `fail_after_n`: after N requests have been answered, every further request fails.
    - `fail_next(...)`: scripted one-shot faults; with `after_commit=True` the write is applied and
      then the error is returned (a "lost response"), which is how tests prove requestid replay and
      crash recovery.

    Storm knobs, for fault storms (random, from `seed`):

    - `burst_rate` / `burst_s` / `burst_retry_after`: a request starts a 429 burst with chance
      `burst_rate`; for `burst_s` seconds every request is answered 429, with a `Retry-After` saying
      when the burst ends when `burst_retry_after` (QBO's throttles may carry none).
    - `lost_rate` / `lost_status`: a random fraction of writes is applied and then answered
      `lost_status` (a random lost response).
    - `slow_rate` / `slow_s`: a random fraction of answers is held back `slow_s` seconds after the
      request was processed (slower than a client's timeout: the work is done, the answer comes late).
    """

    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    fail_after_n: int | None = None
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)
    answered: int = 0
    error_statuses: tuple[int, ...] = ()
    burst_rate: float = 0.0
    burst_s: float = 0.0
    burst_retry_after: bool = True
    lost_rate: float = 0.0
    lost_status: int = 502
    slow_rate: float = 0.0
    slow_s: float = 0.0
    _rng: random.Random = field(init=False, repr=False)
    _burst_until: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the random failures from `seed`, so a run with the same seed fails the same requests."""
        self.seed = seed
        self._rng = random.Random(seed)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        method: str | None = None,
        path_contains: str | None = None,
        after_commit: bool = False,
    ) -> None:
        self.scripted.append(ScriptedFault(count, status, method, path_contains, after_commit))

    def take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        """Consume one matching scripted fault, if any; else, for a write, a random lost response
        (`lost_rate`)."""
        for fault in self.scripted:
            if fault.matches(method, path):
                fault.remaining -= 1
                return fault
        if self.lost_rate > 0 and method.upper() in WRITE_METHODS and self._rng.random() < self.lost_rate:
            return ScriptedFault(0, self.lost_status, after_commit=True)
        return None

    def random_failure(self) -> int | None:
        """Status of a random or fail-after-N failure for this request, or None."""
        if self.fail_after_n is not None and self.answered >= self.fail_after_n:
            return self.error_status
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return self._rng.choice(self.error_statuses) if self.error_statuses else self.error_status
        return None

    def throttle(self, now: float) -> float | None:
        """Seconds left of the 429 burst a request arriving at `now` falls in (it may start one, with
        chance `burst_rate`), or None when the request is not throttled."""
        if now >= self._burst_until:
            if self.burst_rate <= 0 or self._rng.random() >= self.burst_rate:
                return None
            self._burst_until = now + self.burst_s
        return self._burst_until - now

    def slow_answer(self) -> float:
        """Seconds to hold this answer back (`slow_s` for a random `slow_rate` of answers, else 0)."""
        if self.slow_rate > 0 and self._rng.random() < self.slow_rate:
            return self.slow_s
        return 0.0

    def clear(self) -> None:
        self.latency_s = 0.0
        self.error_rate = 0.0
        self.fail_after_n = None
        self.scripted.clear()
        self.error_statuses = ()
        self.burst_rate = 0.0
        self._burst_until = -math.inf
        self.lost_rate = 0.0
        self.slow_rate = 0.0


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it, for tests that count or inspect calls."""

    method: str
    path: str
    query: str
    status: int
    body: bytes = b""
