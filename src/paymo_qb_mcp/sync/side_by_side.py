"""Reads run side by side whose failure is the failing read's own error, not an exception group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from paymo_qb_mcp.errors import PaymoQbError

__all__ = ["side_by_side"]


@asynccontextmanager
async def side_by_side() -> AsyncIterator[TaskGroup]:
    """A task group for reads that may run together (company lists, a period's invoices).

    When a read fails, anyio raises an ``ExceptionGroup``; callers, and the tools' error texts, know
    ``PaymoQbError`` (a TRANSIENT read that ran out of retries must reach the agent as TRANSIENT, not
    as an unexpected failure). So a group whose errors are all ``PaymoQbError`` raises its first; a
    group holding anything else (a bug, a cancellation) is raised as it is.
    """
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as failed:
        errors = _leaves(failed)
        if errors and all(isinstance(error, PaymoQbError) for error in errors):
            raise errors[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found
