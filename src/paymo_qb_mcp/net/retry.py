"""When to retry an HTTP call and how long to wait: a pure decision both API clients share."""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
from dataclasses import dataclass

__all__ = [
    "RETRYABLE_SERVER_STATUSES",
    "RetryDecision",
    "RetryPolicy",
    "decide_retry",
    "parse_retry_after",
    "throttle_backoff",
]

# 501 (not implemented) and 505 (version not supported) never heal, so only these are worth a retry.
RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop. Delays are seconds; ``max_attempts`` counts the first try.

    ``max_throttled_attempts`` bounds the attempts while the service answers 429 instead: a throttle
    means "not now", not "broken", so waits that start at a second or two may go on until the service
    has room again (its window can take a minute), within ``max_total_wait`` like every wait.
    """

    max_attempts: int = 5
    max_throttled_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_total_wait: float = 120.0
    # The first wait after a 429 that carries no Retry-After; each further one doubles (with jitter) up
    # to max_delay. Intuit's advice is a flat 60 s, but a client that paces itself is throttled only by
    # someone else's burst, which seconds usually outlast; a minute per throttle made month-end crawl.
    default_429_wait: float = 1.0

    def __post_init__(self) -> None:
        if min(self.max_attempts, self.max_throttled_attempts) < 1:
            raise ValueError("max_attempts and max_throttled_attempts must be at least 1 (the first try)")
        if min(self.base_delay, self.max_delay, self.max_total_wait, self.default_429_wait) < 0:
            raise ValueError("retry delays must not be negative")


@dataclass(frozen=True)
class RetryDecision:
    """Whether to send the request again, after how many seconds, and why (for the log)."""

    retry: bool
    delay: float
    reason: str


def _give_up(reason: str) -> RetryDecision:
    return RetryDecision(retry=False, delay=0.0, reason=reason)


def _backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    # "Full jitter": uniform in [0, min(cap, base * 2^(attempt-1))], which spreads out clients that
    # failed together better than equal or decorrelated jitter.
    ceiling = min(policy.max_delay, policy.base_delay * math.pow(2.0, min(attempt - 1, 60)))
    return rng.uniform(0.0, ceiling)


def throttle_backoff(attempt: int, *, first: float, cap: float, rng: random.Random) -> float:
    """The wait after the ``attempt``-th throttle in a row that named no wait of its own: uniform in
    [w, 2w] with w = ``first`` * 2^(attempt-1), never more than ``cap``.

    Unlike the 5xx backoff it never comes out near zero: asking again at once is what a throttle
    forbids, and the jitter only has to keep clients that were throttled together from returning
    together.
    """
    floor = first * math.pow(2.0, min(max(attempt, 1) - 1, 60))
    return min(cap, rng.uniform(floor, 2.0 * floor))


def decide_retry(
    policy: RetryPolicy,
    *,
    attempt: int,
    waited: float,
    status: int | None,
    network_error: bool,
    retry_after: float | None,
    replay_safe: bool,
    rng: random.Random,
) -> RetryDecision:
    """Decide whether attempt number ``attempt`` (1 = the first try), which just ended, is tried again.

    ``waited`` is the time already spent sleeping between earlier attempts. ``status`` is the HTTP
    status, or None when ``network_error`` (no response). ``replay_safe`` is true for reads and for
    writes the service de-duplicates (QBO ``requestid``): only those are repeated after a 5xx or a
    network error, because the first try may have been applied. A 429 means the service did not act
    on the request, so it is retried whatever the method. A retry is never granted when its delay
    would take the total wait past ``policy.max_total_wait``.
    """
    if network_error:
        cause = "network error"
    elif status is None:
        return _give_up("no response and no network error: nothing to retry")
    elif status == 429:
        cause = "429 rate limited"
    elif status in RETRYABLE_SERVER_STATUSES:
        cause = f"{status} server error"
    elif status >= 400:
        return _give_up(f"{status} will not change on a retry")
    else:
        return _give_up(f"{status} is not an error")

    throttled = status == 429 and not network_error
    if attempt >= (policy.max_throttled_attempts if throttled else policy.max_attempts):
        return _give_up(f"{cause}; giving up after {attempt} attempts")
    remaining = policy.max_total_wait - waited

    if throttled:
        if retry_after is not None:
            delay = max(retry_after, 0.0)
            source = "Retry-After"
        else:
            delay = throttle_backoff(attempt, first=policy.default_429_wait, cap=policy.max_delay, rng=rng)
            source = "no Retry-After, growing backoff"
        if delay > remaining:
            return _give_up(f"{cause}; the wait of {delay:.1f} s exceeds the remaining {remaining:.1f} s")
        return RetryDecision(retry=True, delay=delay, reason=f"{cause} ({source})")

    if not replay_safe:
        return _give_up(f"{cause} on a request that is not safe to replay (it may have been applied)")
    if remaining <= 0:
        return _give_up(f"{cause}; the retry budget of {policy.max_total_wait:.1f} s is spent")
    # The jittered delay is capped by what is left of the budget rather than refused: any point in
    # the jitter interval is as good as another.
    delay = min(_backoff(policy, attempt, rng), remaining)
    return RetryDecision(retry=True, delay=delay, reason=f"{cause} (exponential backoff)")


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    reference = now if now is not None else dt.datetime.now(dt.UTC)
    return max((when - reference).total_seconds(), 0.0)
