"""A fake monotonic clock whose sleep advances it, so limiter and retry tests never really wait."""

from __future__ import annotations

import anyio.lowlevel


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()
