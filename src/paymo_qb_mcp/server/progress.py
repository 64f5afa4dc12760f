"""Progress notifications of one tool call: records done of total, and the waits a rate limit imposes.

MCP asks a progress value to grow with every notification, so a wait (QuickBooks throttled us; the
pacer holds a request back) is reported as a small step past the last value, with a message that
says how long and why; the next real step moves past it.
"""

from __future__ import annotations

import logging
from typing import Final

from mcp.server.mcpserver import Context

__all__ = ["ProgressReport"]

logger = logging.getLogger(__name__)

# A wait moves the reported value by this much: never a whole record.
_WAIT_STEP: Final = 0.001


class ProgressReport:
    """Sends ``notifications/progress`` for one call (nothing when the client sent no progress token)."""

    def __init__(self, ctx: Context, total: int) -> None:
        self._ctx = ctx
        self._total = total
        self._value = -1.0
        self.waits: list[tuple[str, float, str]] = []

    async def step(self, done: int, total: int, message: str) -> None:
        """``done`` of ``total`` records are written."""
        self._total = total
        await self._send(max(float(done), self._value + _WAIT_STEP), message)

    async def wait(self, service: str, seconds: float, reason: str) -> None:
        """A request waits ``seconds`` before it may go (a ``net.waits`` reporter)."""
        self.waits.append((service, seconds, reason))
        name = "QuickBooks" if service == "quickbooks" else "Paymo" if service == "paymo" else service
        await self._send(self._value + _WAIT_STEP, f"waiting {seconds:.1f} s for {name}: {reason}")

    async def _send(self, value: float, message: str) -> None:
        self._value = value
        try:
            await self._ctx.report_progress(value, float(self._total), message)
        except Exception:  # a client that cannot take progress never fails the call
            logger.debug("the client did not take a progress notification", exc_info=True)
