"""The pure retry decision: what is retried, how long we wait, and the bounds that always hold."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.net.retry import (
    RetryDecision,
    RetryPolicy,
    decide_retry,
    parse_retry_after,
    throttle_backoff,
)

POLICY = RetryPolicy()


def decide(
    *,
    status: int | None,
    attempt: int = 1,
    waited: float = 0.0,
    network_error: bool = False,
    retry_after: float | None = None,
    replay_safe: bool = True,
    policy: RetryPolicy = POLICY,
    seed: int = 7,
) -> RetryDecision:
    return decide_retry(
        policy,
        attempt=attempt,
        waited=waited,
        status=status,
        network_error=network_error,
        retry_after=retry_after,
        replay_safe=replay_safe,
        rng=random.Random(seed),
    )


def test_success_is_not_retried() -> None:
    assert not decide(status=200).retry
    assert not decide(status=201).retry


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    decision = decide(status=status)
    assert not decision.retry
    assert str(status) in decision.reason


def test_429_waits_exactly_retry_after_even_for_writes() -> None:
    decision = decide(status=429, retry_after=4.0, replay_safe=False)
    assert decision.retry
    assert decision.delay == 4.0
    assert "Retry-After" in decision.reason


def test_429_without_retry_after_backs_off_from_a_second_or_two_doubling_up_to_a_minute() -> None:
    for attempt, (low, high) in enumerate([(1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 60)], start=1):
        delays = [decide(status=429, attempt=attempt, seed=seed).delay for seed in range(200)]
        assert all(low <= delay <= high for delay in delays), attempt
        # jittered over the whole interval, so clients throttled together do not come back together
        assert max(delays) - min(delays) > (high - low) * 0.7, attempt
    decision = decide(status=429, attempt=3, seed=11)
    assert decision.retry
    assert "no Retry-After, growing backoff" in decision.reason
    assert decision.delay == decide(status=429, attempt=3, seed=11).delay  # a seeded rng decides alike
    assert decide(status=429, attempt=7, waited=0.0, seed=2).delay == 60.0


def test_throttle_backoff_is_capped_and_scales_with_its_first_wait() -> None:
    rng = random.Random(5)
    assert 0.1 <= throttle_backoff(1, first=0.1, cap=6.0, rng=rng) <= 0.2
    assert 0.8 <= throttle_backoff(4, first=0.1, cap=6.0, rng=rng) <= 1.6
    assert throttle_backoff(40, first=0.1, cap=6.0, rng=rng) == 6.0
    assert throttle_backoff(0, first=1.0, cap=60.0, rng=rng) <= 2.0  # an attempt below 1 counts as the first


def test_throttles_may_take_more_attempts_than_failures_within_the_wait_budget() -> None:
    attempt = POLICY.max_attempts
    assert not decide(status=503, attempt=attempt).retry
    assert decide(status=429, attempt=attempt, waited=30.0).retry
    assert not decide(status=429, attempt=POLICY.max_throttled_attempts).retry
    # Run the whole loop against a service that throttles for a minute: it gets through, waiting less
    # than the flat minute per throttle that Intuit suggests would have cost.
    rng = random.Random(3)
    waited, attempt = 0.0, 1
    while waited < 60.0:
        decision = decide_retry(
            POLICY,
            attempt=attempt,
            waited=waited,
            status=429,
            network_error=False,
            retry_after=None,
            replay_safe=False,
            rng=rng,
        )
        assert decision.retry, decision.reason
        waited += decision.delay
        attempt += 1
    assert waited <= POLICY.max_total_wait


def test_429_whose_wait_does_not_fit_the_budget_gives_up() -> None:
    decision = decide(status=429, retry_after=30.0, waited=100.0)
    assert not decision.retry
    assert "exceeds" in decision.reason


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_replay_safe_requests_with_growing_backoff(status: int) -> None:
    ceilings = [POLICY.base_delay * 2**n for n in range(4)]
    for attempt, ceiling in enumerate(ceilings, start=1):
        delays = [decide(status=status, attempt=attempt, seed=seed).delay for seed in range(200)]
        assert all(0.0 <= delay <= ceiling for delay in delays)
        # full jitter spreads over the whole interval
        assert max(delays) > ceiling * 0.8
        assert min(delays) < ceiling * 0.2


def test_backoff_ceiling_is_capped_by_max_delay() -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=1.0, max_delay=3.0, max_total_wait=1000.0)
    delays = [decide(status=503, attempt=15, policy=policy, seed=seed).delay for seed in range(100)]
    assert max(delays) <= 3.0


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_on_writes_without_idempotency_are_not_retried(status: int) -> None:
    decision = decide(status=status, replay_safe=False)
    assert not decision.retry
    assert "not safe to replay" in decision.reason


@pytest.mark.parametrize("status", [501, 505])
def test_server_errors_that_never_heal_are_not_retried(status: int) -> None:
    assert not decide(status=status).retry


def test_network_errors_follow_replay_safety() -> None:
    assert decide(status=None, network_error=True, replay_safe=True).retry
    assert not decide(status=None, network_error=True, replay_safe=False).retry


def test_attempts_are_bounded() -> None:
    assert decide(status=503, attempt=POLICY.max_attempts - 1).retry
    final = decide(status=503, attempt=POLICY.max_attempts)
    assert not final.retry
    assert "giving up after 5 attempts" in final.reason
    assert not decide(status=429, retry_after=1.0, attempt=POLICY.max_throttled_attempts).retry


def test_backoff_is_clipped_to_what_is_left_of_the_budget() -> None:
    waited = POLICY.max_total_wait - 0.01
    decision = decide(status=503, attempt=4, waited=waited, seed=3)
    assert decision.retry
    assert decision.delay == POLICY.max_total_wait - waited
    assert not decide(status=503, attempt=2, waited=POLICY.max_total_wait).retry


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="max_throttled_attempts"):
        RetryPolicy(max_throttled_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


statuses = st.one_of(st.none(), st.integers(min_value=100, max_value=599))
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=12),
    max_throttled_attempts=st.integers(min_value=1, max_value=12),
    base_delay=st.floats(min_value=0.0, max_value=10.0),
    max_delay=st.floats(min_value=0.0, max_value=120.0),
    max_total_wait=st.floats(min_value=0.0, max_value=300.0),
    default_429_wait=st.floats(min_value=0.0, max_value=90.0),
)


@given(
    policy=policies,
    statuses=st.lists(statuses, min_size=1, max_size=15),
    retry_afters=st.lists(
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=200.0)), min_size=15, max_size=15
    ),
    replay_safe=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_a_whole_retry_loop_never_waits_longer_than_the_budget_nor_tries_too_often(
    policy: RetryPolicy,
    statuses: list[int | None],
    retry_afters: list[float | None],
    replay_safe: bool,
    seed: int,
) -> None:
    rng = random.Random(seed)
    waited = 0.0
    attempts = 0
    for attempt, status in enumerate(statuses, start=1):
        attempts = attempt
        decision = decide_retry(
            policy,
            attempt=attempt,
            waited=waited,
            status=status,
            network_error=status is None,
            retry_after=retry_afters[attempt - 1],
            replay_safe=replay_safe,
            rng=rng,
        )
        assert decision.delay >= 0.0
        if not decision.retry:
            break
        waited += decision.delay
        assert waited <= policy.max_total_wait + 1e-9
    assert attempts <= max(policy.max_attempts, policy.max_throttled_attempts)


@given(
    status=st.integers(min_value=400, max_value=499).filter(lambda code: code != 429),
    attempt=st.integers(min_value=1, max_value=10),
    replay_safe=st.booleans(),
    retry_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=10.0)),
)
def test_no_4xx_but_429_is_ever_retried(
    status: int, attempt: int, replay_safe: bool, retry_after: float | None
) -> None:
    assert not decide(status=status, attempt=attempt, replay_safe=replay_safe, retry_after=retry_after).retry


@given(
    status=st.integers(min_value=500, max_value=599),
    attempt=st.integers(min_value=1, max_value=10),
    waited=st.floats(min_value=0.0, max_value=200.0),
)
def test_non_replay_safe_requests_are_never_retried_after_5xx_or_network_errors(
    status: int, attempt: int, waited: float
) -> None:
    assert not decide(status=status, attempt=attempt, waited=waited, replay_safe=False).retry
    assert not decide(
        status=None, network_error=True, attempt=attempt, waited=waited, replay_safe=False
    ).retry


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = dt.datetime(2026, 11, 3, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Tue, 03 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 03 Nov 2026 11:00:00 GMT", now=now) == 0.0
