"""side_by_side: reads run together fail with the failing read's own error (what callers and the tools'
error texts know), not an exception group; anything that is not a project error stays a group."""

from __future__ import annotations

import anyio
import pytest

from paymo_qb_mcp.errors import NotFound, Transient
from paymo_qb_mcp.sync.side_by_side import side_by_side


async def test_a_failed_read_raises_its_own_error_and_the_others_are_cancelled() -> None:
    finished: list[str] = []

    async def slow() -> None:
        await anyio.sleep(5)
        finished.append("slow")

    async def failing() -> None:
        raise Transient("QuickBooks query Customer failed: 503", service="quickbooks")

    async def together() -> None:
        async with side_by_side() as group:
            group.start_soon(slow)
            group.start_soon(failing)

    with pytest.raises(Transient, match="query Customer"):
        await together()
    assert finished == []


async def test_a_failure_in_a_nested_group_raises_the_error_itself() -> None:
    async def inner() -> None:
        async with side_by_side() as group:
            group.start_soon(_raise, NotFound("Paymo invoice 7 not found", service="paymo"))

    async def outer() -> None:
        async with side_by_side() as group:
            group.start_soon(inner)

    with pytest.raises(NotFound):
        await outer()


async def test_a_bug_among_the_errors_is_not_hidden() -> None:
    async def buggy() -> None:
        async with side_by_side() as group:
            group.start_soon(_raise, KeyError("rows"))

    with pytest.raises(ExceptionGroup) as raised:
        await buggy()
    assert isinstance(raised.value.exceptions[0], KeyError)


async def _raise(error: Exception) -> None:
    raise error
