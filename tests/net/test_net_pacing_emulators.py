"""The default pacers against emulators enforcing the services' real limits: no throttle, whatever the wire.

Both sides run on one time scale (every window shorter by the same factor) so the runs take seconds.
Each request spends a random 0–50 ms on the wire before the emulator sees it, as over a real network:
a pacer that frees a slot a period after reserving it, rather than a period after the answer, runs
ahead of the service's count and is throttled (that rule met throttles in each of these runs).
Nothing here asserts on time: the pacing is correct by construction, so the count of 429s is exact.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator

import anyio
import httpx
import pytest

from paymo_qb_mcp.net.ratelimit import clear_limiters
from paymo_qb_mcp.paymo import PaymoClient
from paymo_qb_mcp.quickbooks import BatchItem, Customer, QboClient, StaticTokenProvider, eq, select
from paymo_qb_mcp.sandbox import PaymoEmulator, QboEmulator

QBO_SCALE = 20.0  # 500 requests per 3 s, 10 per 50 ms
QBO_READS = 1_200  # past the per-minute budget twice
BATCH_SCALE = 60.0  # 40 batch requests per second
BATCHES = 90
PAYMO_SCALE = 100.0  # 5 requests per 50 ms
PAYMO_READS = 300
CALLERS = 8  # more callers than the QBO limiter lets in flight


class OnTheWire(httpx.AsyncBaseTransport):
    """Holds every request a random 0–50 ms before the service sees it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seed: int) -> None:
        self._inner = inner
        self._rng = random.Random(seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self._rng.uniform(0.0, 0.05))
        return await self._inner.handle_async_request(request)


def qbo_client(emulator: QboEmulator, time_scale: float) -> QboClient:
    """A client with the process-wide limiters it makes for itself, scaled like the emulator."""
    return QboClient(
        base_url="https://sandbox-quickbooks.api.intuit.com",
        realm_id=emulator.realm_id,
        token_provider=StaticTokenProvider(emulator.access_token),
        transport=OnTheWire(httpx.ASGITransport(app=emulator.app), seed=1),
        time_scale=time_scale,
    )


@pytest.fixture(autouse=True)
def fresh_limiters() -> Iterator[None]:
    clear_limiters()
    yield
    clear_limiters()


async def call_concurrently(count: int, call: Callable[[], Awaitable[None]]) -> None:
    numbers = iter(range(count))

    async def caller() -> None:
        for _ in numbers:
            await call()

    async with anyio.create_task_group() as group:
        for _ in range(CALLERS):
            group.start_soon(caller)


@pytest.mark.slow
async def test_qbo_reads_paced_by_the_default_limiters_meet_no_throttle() -> None:
    emulator = QboEmulator("demo", rate_limits="faithful", time_scale=QBO_SCALE)
    async with qbo_client(emulator, QBO_SCALE) as qbo:

        async def read() -> None:
            assert (await qbo.read(Customer, "1")).Id == "1"

        await call_concurrently(QBO_READS, read)
    assert emulator.throttled == 0
    assert len(emulator.request_log) == QBO_READS


@pytest.mark.slow
async def test_qbo_batches_paced_by_the_default_limiters_meet_no_throttle() -> None:
    emulator = QboEmulator("demo", rate_limits="faithful", time_scale=BATCH_SCALE)
    async with qbo_client(emulator, BATCH_SCALE) as qbo:

        async def batch() -> None:
            [result] = await qbo.batch([BatchItem.select(select(Customer).where(eq("Id", "1")))])
            assert result.error is None

        await call_concurrently(BATCHES, batch)
    assert emulator.throttled == 0
    assert len(emulator.request_log) == BATCHES


@pytest.mark.slow
async def test_paymo_reads_paced_by_the_default_pacer_meet_no_throttle() -> None:
    emulator = PaymoEmulator("demo", rate_limits="faithful", time_scale=PAYMO_SCALE)
    client = PaymoClient(
        api_key=emulator.api_key,
        transport=OnTheWire(httpx.ASGITransport(app=emulator.app), seed=2),
        time_scale=PAYMO_SCALE,
    )
    async with client as paymo:

        async def read() -> None:
            assert (await paymo.me()).id is not None

        await call_concurrently(PAYMO_READS, read)
    assert emulator.throttled == 0
    assert len(emulator.request_log) == PAYMO_READS
