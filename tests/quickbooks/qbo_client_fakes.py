"""Test doubles for the QBO client: a recording sleep and a token provider that can refresh."""

from __future__ import annotations

import anyio.lowlevel


class RecordingSleep:
    """Stands in for anyio.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await anyio.lowlevel.checkpoint()


class RefreshingTokenProvider:
    """Hands out ``tokens`` in order: the first as the access token, the next on each refresh."""

    def __init__(self, *tokens: str | None) -> None:
        self._tokens = list(tokens)
        self.current = tokens[0]
        self.refreshed_after: list[str] = []

    async def access_token(self) -> str:
        assert self.current is not None
        return self.current

    async def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        self.refreshed_after.append(rejected_token)
        self._tokens.pop(0)
        self.current = self._tokens[0] if self._tokens else None
        return self.current
