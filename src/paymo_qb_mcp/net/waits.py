"""Telling a human why a call is waiting: a reporter, set for the calling context, told before each long wait.

The HTTP layer calls it before sleeping for a retry and before a rate limiter holds a request back for
``REPORT_AFTER_S`` or more; an outer layer (the MCP server) sets one around a tool call to turn those
waits into progress messages. A context variable carries it, so it reaches the HTTP calls of the tool
call that set it (and of tasks that call starts) and no other, without any layer in between passing it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["REPORT_AFTER_S", "WaitReporter", "announce_wait", "report_waits"]

logger = logging.getLogger(__name__)

# A limiter's waits shorter than this are ordinary pacing, not worth a message.
REPORT_AFTER_S = 1.0

WaitReporter = Callable[[str, float, str], Awaitable[None] | None]
"""``reporter(service, seconds, reason)``: ``service`` is "quickbooks" or "paymo", ``seconds`` how long
the coming wait is, ``reason`` a short sentence for a human. Plain functions and coroutine functions
are both accepted."""

_reporter: ContextVar[WaitReporter | None] = ContextVar("paymo_qb_mcp_wait_reporter", default=None)


@contextmanager
def report_waits(reporter: WaitReporter) -> Iterator[None]:
    """Send every wait of the HTTP calls made inside this block (in this context) to ``reporter``.

    An inner block replaces an outer one until it ends.
    """
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


async def announce_wait(service: str, seconds: float, reason: str) -> None:
    """Tell the current reporter, if any, about a wait that is about to start.

    Reporting is a courtesy: a reporter that fails is logged and the call goes on.
    """
    reporter = _reporter.get()
    if reporter is None:
        return
    try:
        outcome = reporter(service, seconds, reason)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.warning("the wait reporter failed; the call goes on", exc_info=True)
